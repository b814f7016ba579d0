package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// apiClient publishes through the HTTP server API over keep-alive
// connections. It is safe for concurrent use.
type apiClient struct {
	url string
	key string
	hc  *http.Client
}

// newAPIClient returns a client for o.APIURL keeping up to workers idle
// connections.
func newAPIClient(o Options, workers int) *apiClient {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        workers + 4,
		MaxIdleConnsPerHost: workers + 4,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSClientConfig:     o.TLS,
	}
	return &apiClient{
		url: o.APIURL + "/publish",
		key: o.APIKey,
		hc:  &http.Client{Transport: tr, Timeout: o.Timeout},
	}
}

// close drops the idle connections.
func (a *apiClient) close() { a.hc.CloseIdleConnections() }

// apiError is an error from the server API, in the response body or as a
// non-200 HTTP status.
type apiError struct {
	Status  int
	Code    uint32
	Message string
}

// Error describes the failure.
func (e *apiError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("api error %d: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("api HTTP status %d: %s", e.Status, e.Message)
}

// appendPublishBody appends {"channel":...,"data":data} to dst; data must
// be valid JSON.
func appendPublishBody(dst []byte, channel string, data []byte) []byte {
	dst = append(dst, `{"channel":`...)
	dst = strconv.AppendQuote(dst, channel)
	dst = append(dst, `,"data":`...)
	dst = append(dst, data...)
	return append(dst, '}')
}

// publish posts body (a publish request) and returns an error unless the
// server answered with a result.
func (a *apiClient) publish(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.key != "" {
		req.Header.Set("X-API-Key", a.key)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	return publishResult(resp.StatusCode, b)
}

// publishResult returns the error of a publish answer (HTTP status and
// body), nil for a result without error.
func publishResult(status int, b []byte) error {
	if status != http.StatusOK {
		return &apiError{Status: status, Message: string(bytes.TrimSpace(b))}
	}
	// Fast path: a result without error.
	if !bytes.Contains(b, []byte(`"error"`)) {
		return nil
	}
	var r struct {
		Error *struct {
			Code    uint32 `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("api response: %w", err)
	}
	if r.Error != nil {
		return &apiError{Status: status, Code: r.Error.Code, Message: r.Error.Message}
	}
	return nil
}
