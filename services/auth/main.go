// Command auth issues signed session tokens (POST /auth/login) and checks them
// (GET /auth/verify). Tokens are "user.expiry.signature" with an HMAC-SHA256 signature.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func sign(secret []byte, payload string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(payload))
	return hex.EncodeToString(mac.Sum(nil))
}

func main() {
	secret := []byte(os.Getenv("JWT_SECRET"))
	if len(secret) == 0 {
		log.Fatal("JWT_SECRET is not set")
	}
	if err := register("auth", os.Getenv("HTTP_ADDR")); err != nil {
		log.Printf("consul registration: %v", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/auth/login", func(w http.ResponseWriter, r *http.Request) {
		user := r.FormValue("user")
		if r.Method != http.MethodPost || user == "" {
			http.Error(w, "POST user=NAME", http.StatusBadRequest)
			return
		}
		payload := user + "." + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
		fmt.Fprintln(w, payload+"."+sign(secret, payload))
	})
	mux.HandleFunc("/auth/verify", func(w http.ResponseWriter, r *http.Request) {
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		i := strings.LastIndex(token, ".")
		if i < 0 || !hmac.Equal([]byte(sign(secret, token[:i])), []byte(token[i+1:])) {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		payload := token[:i]
		j := strings.LastIndex(payload, ".")
		expiry, err := strconv.ParseInt(payload[j+1:], 10, 64)
		if j < 0 || err != nil || time.Now().Unix() > expiry {
			http.Error(w, "expired token", http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, payload[:j])
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })

	log.Printf("auth listening on %s", os.Getenv("HTTP_ADDR"))
	log.Fatal(http.ListenAndServe(os.Getenv("HTTP_ADDR"), mux))
}
