package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// register announces this instance to the consul agent named by DISCOVERY_DSN
// (consul://host:8500), with an HTTP health check on /healthz. No DSN, no registration.
func register(name, addr string) error {
	dsn := os.Getenv("DISCOVERY_DSN")
	if dsn == "" {
		return nil
	}
	agent, err := url.Parse(dsn)
	if err != nil || agent.Scheme != "consul" || agent.Host == "" {
		return fmt.Errorf("DISCOVERY_DSN must look like consul://host:8500, got %q", dsn)
	}
	port, err := strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %q has no port", addr)
	}
	host, _ := os.Hostname()
	body, _ := json.Marshal(map[string]any{
		"Name":    name,
		"ID":      name + "-" + host,
		"Address": host,
		"Port":    port,
		"Check": map[string]string{
			"HTTP":     fmt.Sprintf("http://%s:%d/healthz", host, port),
			"Interval": "10s",
		},
	})
	req, err := http.NewRequest(http.MethodPut, "http://"+agent.Host+"/v1/agent/service/register",
		bytes.NewReader(body))
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("consul answered %s", resp.Status)
	}
	return nil
}
