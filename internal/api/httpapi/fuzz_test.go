package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldrt/herald/internal/api"
	"github.com/heraldrt/herald/internal/api/apitest"
	"github.com/heraldrt/herald/internal/api/httpapi"
)

// FuzzLegacyAPI feeds arbitrary bodies to the legacy route. The handler must
// not panic, must answer 200 or 400, and on 200 must write one well-formed
// reply line per command, each holding exactly one of result and error;
// ServeFast must answer byte for byte the same.
// Seeds live in testdata/fuzz/FuzzLegacyAPI.
func FuzzLegacyAPI(f *testing.F) {
	f.Add([]byte(`{"method":"info"}`))
	eng := &apitest.Engine{NoRecord: true}
	fullEngine(eng)
	h := httpapi.NewHandler(api.New(eng, api.Config{MaxConcurrency: 8}), httpapi.Config{Insecure: true, MaxBodySize: 1 << 20}, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api", bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		sameAnswer(h, r, string(body), w) // the fasthttp binding answers the same
		switch w.Code {
		case http.StatusBadRequest:
			return
		case http.StatusOK:
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
		commands := 0
		dec := json.NewDecoder(bytes.NewReader(body))
		for {
			var v json.RawMessage
			if err := dec.Decode(&v); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("200 for undecodable body %q: %v", body, err)
			}
			commands++
		}
		lines := bytes.Split(w.Body.Bytes(), []byte("\n"))
		if len(lines) != commands {
			t.Fatalf("%d replies for %d commands: %q", len(lines), commands, w.Body.String())
		}
		for _, line := range lines {
			var reply map[string]json.RawMessage
			if err := json.Unmarshal(line, &reply); err != nil {
				t.Fatalf("reply %q: %v", line, err)
			}
			_, hasResult := reply["result"]
			_, hasError := reply["error"]
			if hasResult == hasError {
				t.Fatalf("reply %q must hold exactly one of result and error", line)
			}
			if len(reply) > 2 || (len(reply) == 2 && reply["id"] == nil) {
				t.Fatalf("unexpected reply fields %q", line)
			}
		}
	})
}
