// Command gateway is the shop's public entry point: it routes /auth/ and /users/ to the
// services behind it, found through consul (DISCOVERY_DSN) or static URLs (AUTH_URL, USER_URL).
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof" // served on PPROF_ADDR only
	"net/url"
	"os"
	"strings"
	"time"
)

// resolver finds the base URL of a service by name.
type resolver func(service string) (*url.URL, error)

func staticResolver() resolver {
	urls := map[string]string{"auth": os.Getenv("AUTH_URL"), "user": os.Getenv("USER_URL")}
	return func(service string) (*url.URL, error) {
		raw := urls[service]
		if raw == "" {
			return nil, fmt.Errorf("no static URL for %q", service)
		}
		return url.Parse(raw)
	}
}

// consulResolver asks consul's health API for a passing instance of the service.
func consulResolver(dsn string) (resolver, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "consul" || u.Host == "" {
		return nil, fmt.Errorf("DISCOVERY_DSN must look like consul://host:8500, got %q", dsn)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	return func(service string) (*url.URL, error) {
		resp, err := client.Get("http://" + u.Host + "/v1/health/service/" + service + "?passing=1")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var entries []struct {
			Service struct {
				Address string
				Port    int
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
			return nil, err
		}
		if len(entries) == 0 {
			return nil, fmt.Errorf("no healthy instance of %q", service)
		}
		s := entries[0].Service
		return &url.URL{Scheme: "http", Host: fmt.Sprintf("%s:%d", s.Address, s.Port)}, nil
	}, nil
}

func route(resolve resolver, service string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target, err := resolve(service)
		if err != nil {
			log.Printf("route %s: %v", r.URL.Path, err)
			http.Error(w, "service unavailable", http.StatusBadGateway)
			return
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	})
}

func main() {
	resolve := staticResolver()
	if dsn := os.Getenv("DISCOVERY_DSN"); dsn != "" {
		var err error
		if resolve, err = consulResolver(dsn); err != nil {
			log.Fatal(err)
		}
		log.Printf("discovery via %s, config key %q", dsn, os.Getenv("DISCOVERY_CONFIG_PATH"))
	}

	mux := http.NewServeMux()
	mux.Handle("/auth/", route(resolve, "auth"))
	mux.Handle("/users/", route(resolve, "user"))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})

	if addr := os.Getenv("PPROF_ADDR"); addr != "" {
		go func() { log.Println(http.ListenAndServe(addr, nil)) }()
	}
	if cert, key := os.Getenv("TLS_CERT_FILE"), os.Getenv("TLS_KEY_FILE"); cert != "" && key != "" {
		go func() { log.Fatal(http.ListenAndServeTLS(":443", cert, key, mux)) }()
	}
	addr := os.Getenv("HTTP_ADDR")
	if !strings.Contains(addr, ":") {
		addr = ":8080"
	}
	log.Printf("gateway listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, mux))
}
