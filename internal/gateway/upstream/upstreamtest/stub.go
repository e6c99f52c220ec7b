// Package upstreamtest serves canned upstream answers, so fuzz tests can drive a gateway's real
// HTTP client with any status and body an upstream could send.
package upstreamtest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gopay-miniapp/bff/internal/domain"
)

// Stub answers every request with the status and body last set, or per path where one is set.
type Stub struct {
	URL    string
	mu     sync.Mutex
	status int
	body   []byte
	byPath map[string]answer
}

type answer struct {
	status int
	body   []byte
}

// NewStub serves until the test ends.
func NewStub(tb testing.TB) *Stub {
	tb.Helper()
	s := &Stub{status: http.StatusOK, byPath: map[string]answer{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		a, ok := s.byPath[r.URL.Path]
		if !ok {
			a = answer{s.status, s.body}
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Status maps any fuzzed integer onto a status an HTTP server can send (200 to 599), keeping
// those already in range as they are.
func Status(n int) int {
	if n >= 200 && n <= 599 {
		return n
	}
	return 200 + int(uint(n)%400) // uint: -n overflows for the smallest int
}

// Answer sets what every request gets from now on.
func (s *Stub) Answer(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

// AnswerPath sets what requests to one path get.
func (s *Stub) AnswerPath(path string, status int, body []byte) {
	s.mu.Lock()
	s.byPath[path] = answer{status, body}
	s.mu.Unlock()
}

// CheckError fails the test unless err is nil or one of our domain errors of a kind a gateway
// may answer: an upstream's answer, however odd, is never an internal error (500) of ours.
func CheckError(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		tb.Fatalf("not a domain error: %v", err)
	}
	switch de.Kind {
	case domain.KindUpstream, domain.KindUnavailable, domain.KindTimeout, domain.KindUnprocessable, domain.KindConflict:
	default:
		tb.Fatalf("kind %d (%s) from an upstream answer: %v", de.Kind, de.Code, err)
	}
	if de.Code == "" || de.Message == "" {
		tb.Fatalf("error without code or message: %v", err)
	}
}
