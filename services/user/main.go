// Command user stores customer accounts as JSON files under DATA_DIR
// (GET and PUT /users/{id}).
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var validID = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

func main() {
	dir := os.Getenv("DATA_DIR")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		log.Fatal(err)
	}
	if err := register("user", os.Getenv("HTTP_ADDR")); err != nil {
		log.Printf("consul registration: %v", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/users/", func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/users/")
		if !validID.MatchString(id) {
			http.Error(w, "bad user id", http.StatusBadRequest)
			return
		}
		file := filepath.Join(dir, id+".json")
		switch r.Method {
		case http.MethodGet:
			http.ServeFile(w, r, file)
		case http.MethodPut:
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil {
				err = os.WriteFile(file, body, 0o640)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "GET or PUT", http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })

	log.Printf("user listening on %s", os.Getenv("HTTP_ADDR"))
	log.Fatal(http.ListenAndServe(os.Getenv("HTTP_ADDR"), mux))
}
