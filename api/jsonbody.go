package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// readJSON reads a request body of at most limit bytes as exactly one JSON
// object into dst, refusing unknown fields. shape is an example of the
// expected body, quoted in errors so a client sees what to send. An empty
// body leaves dst as it is when allowEmpty.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, shape string, dst any, allowEmpty bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("body is larger than %s; send JSON like %s", sizeText(limit), shape)
		}
		return errors.New("could not read the request body")
	}
	if allowEmpty && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("body must be JSON like %s: %v", shape, err)
	}
	if dec.More() {
		return fmt.Errorf("body must be one object, JSON like %s", shape)
	}
	return nil
}

// sizeText writes a byte limit as people read it: "16 KiB", or "300 bytes".
func sizeText(n int64) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
