package idempotency

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/testenv"
)

func newStore(t *testing.T, lockTTL time.Duration) *Store {
	t.Helper()
	_, rdb, prefix := testenv.Redis(t)
	return NewStore(rdb, testenv.Keyring(t), prefix, time.Hour, lockTTL)
}

func TestBeginCompleteReplay(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t, time.Minute), context.Background()
	claim, replay, err := s.Begin(ctx, "u1:POST /x", "key-00001", "fp1")
	if err != nil || claim == nil || replay != nil {
		t.Fatalf("first Begin: %v %v %v", claim, replay, err)
	}
	if _, _, err := s.Begin(ctx, "u1:POST /x", "key-00001", "fp1"); !errors.Is(err, ErrInProgress) {
		t.Fatalf("duplicate while in progress: %v", err)
	}
	if _, _, err := s.Begin(ctx, "u1:POST /x", "key-00001", "fp2"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other body: %v", err)
	}
	want := Response{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"1"}`)}
	if err := claim.Complete(ctx, want); err != nil {
		t.Fatal(err)
	}
	_, got, err := s.Begin(ctx, "u1:POST /x", "key-00001", "fp1")
	if err != nil || got == nil || got.Status != 201 || string(got.Body) != `{"id":"1"}` || got.ContentType != "application/json" {
		t.Fatalf("replay: %+v %v", got, err)
	}
	if c, _, err := s.Begin(ctx, "u2:POST /x", "key-00001", "fp1"); err != nil || c == nil {
		t.Fatalf("another scope must be independent: %v", err)
	}
}

func TestReleaseLetsARetryRun(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t, time.Minute), context.Background()
	claim, _, _ := s.Begin(ctx, "s", "key-00002", "fp")
	if err := claim.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _, err := s.Begin(ctx, "s", "key-00002", "fp"); err != nil || c == nil {
		t.Fatalf("after release: %v", err)
	}
}

// A claim that expired (its instance was too slow or died) must not overwrite the claim of
// the request that ran after it.
func TestExpiredClaimCannotOverwrite(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t, 50*time.Millisecond), context.Background()
	stale, _, _ := s.Begin(ctx, "s", "key-00003", "fp")
	stale.Abandon() // its instance stalls or dies: nobody renews the lease
	time.Sleep(120 * time.Millisecond)
	fresh, _, err := s.Begin(ctx, "s", "key-00003", "fp")
	if err != nil || fresh == nil {
		t.Fatalf("key not free after lock TTL: %v", err)
	}
	if err := stale.Complete(ctx, Response{Status: 201}); err == nil {
		t.Fatal("a stale claim completed over a fresh one")
	}
	if err := fresh.Complete(ctx, Response{Status: 200, Body: []byte("fresh")}); err != nil {
		t.Fatal(err)
	}
	if _, r, _ := s.Begin(ctx, "s", "key-00003", "fp"); r == nil || string(r.Body) != "fresh" {
		t.Fatalf("replay %+v", r)
	}
}

// A claim is a lease renewed while its request runs: a request slower than the lease keeps
// its key, and a duplicate meanwhile is told it is in progress.
func TestLeaseKeepsASlowRequestsKey(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t, 300*time.Millisecond), context.Background()
	c, _, err := s.Begin(ctx, "s", "key-00005", "fp")
	if err != nil || c == nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // over three leases
	if _, _, err := s.Begin(ctx, "s", "key-00005", "fp"); !errors.Is(err, ErrInProgress) {
		t.Fatalf("a running request's key after three leases: %v, want in progress", err)
	}
	if err := c.Complete(ctx, Response{Status: 201, Body: []byte("done")}); err != nil {
		t.Fatalf("complete after renewals: %v", err)
	}
	if _, r, _ := s.Begin(ctx, "s", "key-00005", "fp"); r == nil || string(r.Body) != "done" {
		t.Fatalf("replay %+v", r)
	}
}

// The claim of an instance that died (renewals stop) frees its key within one lease.
func TestDeadOwnersClaimExpiresWithinALease(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t, 300*time.Millisecond), context.Background()
	c, _, _ := s.Begin(ctx, "s", "key-00006", "fp")
	c.Abandon()
	time.Sleep(400 * time.Millisecond)
	if again, _, err := s.Begin(ctx, "s", "key-00006", "fp"); err != nil || again == nil {
		t.Fatalf("key still blocked a lease after its owner died: %v", err)
	}
}

func TestOneWinnerUnderContention(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t, time.Minute), context.Background()
	var winners, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			c, _, err := s.Begin(ctx, "s", "key-00004", "fp")
			switch {
			case c != nil:
				winners.Add(1)
			case errors.Is(err, ErrInProgress):
				conflicts.Add(1)
			default:
				t.Errorf("unexpected %v", err)
			}
		})
	}
	wg.Wait()
	if winners.Load() != 1 || conflicts.Load() != 63 {
		t.Fatalf("%d winners, %d conflicts", winners.Load(), conflicts.Load())
	}
}

func TestValidKey(t *testing.T) {
	for key, want := range map[string]bool{
		"abcdefgh": true, "0f8fad5b-d9cb-469f-a165-70867728950e": true, "a_b-c_d-e": true,
		"abcdefg": false, "": false, "has space1": false, "semi;colon": false, "ключключключ": false,
		string(make([]byte, 65)): false,
	} {
		if ValidKey(key) != want {
			t.Errorf("ValidKey(%q) = %v", key, !want)
		}
	}
}

func TestUpstreamRequestIDIsTheRequestsOwn(t *testing.T) {
	fp := Fingerprint("POST", "/v1/x", []byte(`{"account_token":"t1"}`))
	a := UpstreamRequestID("user:u1:POST /v1/x", "key-0001", fp)
	if a != UpstreamRequestID("user:u1:POST /v1/x", "key-0001", fp) {
		t.Fatal("not deterministic: a client retry would get a new upstream id")
	}
	if fp != Fingerprint("POST", "/v1/x", []byte("{ \"account_token\" :\n \"t1\" }")) {
		t.Fatal("whitespace changed the fingerprint")
	}
	other := Fingerprint("POST", "/v1/x", []byte(`{"account_token":"t2"}`))
	for name, b := range map[string]string{
		"another user":  UpstreamRequestID("user:u2:POST /v1/x", "key-0001", fp),
		"another key":   UpstreamRequestID("user:u1:POST /v1/x", "key-0002", fp),
		"no key":        UpstreamRequestID("user:u1:POST /v1/x", "", fp),
		"another body":  UpstreamRequestID("user:u1:POST /v1/x", "key-0001", other),
		"another route": UpstreamRequestID("user:u1:POST /v1/y", "key-0001", fp),
	} {
		if a == b {
			t.Errorf("%s shares the upstream id", name)
		}
	}
	// Without a key the id still derives from the request: the same body is the same operation.
	if keyless := UpstreamRequestID("user:u1:POST /v1/x", "", fp); keyless != UpstreamRequestID("user:u1:POST /v1/x", "", Fingerprint("POST", "/v1/x", []byte(`{"account_token":"t1"}`))) {
		t.Fatal("a keyless retry must reuse its upstream id")
	}
	unbind := ResourceRequestID("u1", "unbind", "acc-1")
	if unbind == ResourceRequestID("u1", "unbind", "acc-2") || unbind == ResourceRequestID("u2", "unbind", "acc-1") ||
		unbind != ResourceRequestID("u1", "unbind", string([]byte("acc-1"))) {
		t.Fatal("resource ids")
	}
	if x, y := UpstreamRequestIDFrom(context.Background()), UpstreamRequestIDFrom(context.Background()); x == y {
		t.Fatal("outside the middleware each request needs its own id")
	}
	if got := UpstreamRequestIDFrom(WithUpstreamRequestID(context.Background(), a)); got != a {
		t.Fatal("context round trip")
	}
}

// FuzzStoredRecord reads back whatever Redis could hold under a key: a replay comes only from a
// record this store sealed; anything else is in progress, a mismatch or an error, never a
// panic and never a replay of bytes nobody sealed.
func FuzzStoredRecord(f *testing.F) {
	_, rdb, prefix := testenv.Redis(f)
	s := NewStore(rdb, testenv.Keyring(f), prefix, time.Hour, time.Minute)
	ctx := context.Background()
	f.Add([]byte(`{"fp":"fp1","owner":"o"}`), "fp1")
	f.Add([]byte(`{"fp":"fp1","response":{"status":201,"body":"eyJhIjoxfQ=="}}`), "fp1")
	f.Add([]byte(`{"fp":"fp1","response":null}`), "fp1")
	f.Add([]byte(`{"fp":"fp2","response":{}}`), "fp1")
	f.Add([]byte(`not json`), "fp1")
	f.Add(record{Fingerprint: "fp1", Owner: "o"}.encode(), "fp1")
	f.Add(record{Fingerprint: "fp1", Response: &Response{Status: 201, Body: []byte("not sealed")}}.encode(), "fp1")
	f.Add(record{Fingerprint: "fp2", Response: &Response{Status: 201}}.encode(), "fp1")
	n := 0
	f.Fuzz(func(t *testing.T, raw []byte, fingerprint string) {
		n++
		key := fmt.Sprintf("fuzz-key-%08d", n)
		if err := rdb.Set(ctx, prefix+"idem:scope:"+key, raw, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		claim, replay, err := s.Begin(ctx, "scope", key, fingerprint)
		if claim != nil {
			t.Fatal("claimed a key that holds a record")
		}
		if replay != nil {
			t.Fatalf("replayed a record nobody sealed: %q -> %+v (%v)", raw, replay, err)
		}
	})
}

func TestRecordEncodingRoundTrips(t *testing.T) {
	for _, r := range []record{
		{Fingerprint: Fingerprint("POST", "/v1/bank-accounts", []byte(`{"a":1}`)), Owner: "0123456789abcdef"},
		{Fingerprint: "fp", Response: &Response{Status: 201, ContentType: "application/json", Location: "/v1/bank-accounts/x", Body: []byte("sealed\x00bytes")}},
		{Fingerprint: "", Response: &Response{Status: 204}},
	} {
		got, err := decodeRecord(r.encode())
		if err != nil || show(got) != show(r) {
			t.Fatalf("round trip of %+v: %+v (%v)", r, got, err)
		}
	}
	claim := record{Fingerprint: Fingerprint("POST", "/v1/bank-accounts", []byte(`{}`)), Owner: "0123456789abcdef"}
	legacy, _ := json.Marshal(record{Fingerprint: claim.Fingerprint, Owner: hex.EncodeToString([]byte(claim.Owner))}) // as it was stored

	if n, m := len(claim.encode()), len(legacy); n*2 > m {
		t.Fatalf("a claim takes %d bytes, the JSON it replaced %d: want under half", n, m)
	}
	for _, bad := range [][]byte{nil, {'c'}, {'a', 2, 'f', 'p', 0}, {'x', 0, 0}, append(claim.encode(), 0)} {
		if _, err := decodeRecord(bad); err == nil {
			t.Fatalf("decoded a malformed record %q", bad)
		}
	}
}

func show(r record) string {
	s := fmt.Sprintf("%q %q", r.Fingerprint, r.Owner)
	if r.Response != nil {
		s += fmt.Sprintf(" %d %q %q %q", r.Response.Status, r.Response.ContentType, r.Response.Location, r.Response.Body)
	}
	return s
}

// An answer stored as JSON by the previous version still replays after an upgrade.
func TestAnswerStoredByThePreviousVersionReplays(t *testing.T) {
	_, rdb, prefix := testenv.Redis(t)
	ring := testenv.Keyring(t)
	s := NewStore(rdb, ring, prefix, time.Hour, time.Minute)
	ctx := context.Background()
	rkey := prefix + "idem:scope:legacy-key"
	sealed, err := ring.Seal([]byte(`{"id":"acc-1"}`), bodyAAD, rkey)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(record{Fingerprint: "fp1", Response: &Response{Status: 201, ContentType: "application/json", Body: sealed}})
	if err := rdb.Set(ctx, rkey, raw, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	claim, replay, err := s.Begin(ctx, "scope", "legacy-key", "fp1")
	if err != nil || claim != nil || replay == nil || replay.Status != 201 || string(replay.Body) != `{"id":"acc-1"}` {
		t.Fatalf("legacy answer: claim %v replay %+v err %v", claim, replay, err)
	}
}

// Issue 12 §4: keys hold no space (a shell clean-up splits on it), and a key an older release
// wrote with the raw scope still decides a retry that reaches this one: replayed, in progress
// or mismatched, never run again.
func TestKeysAreShellSafeAndOldKeysStillDecide(t *testing.T) {
	t.Parallel()
	_, rdb, prefix := testenv.Redis(t)
	s, ctx := NewStore(rdb, testenv.Keyring(t), prefix, time.Hour, time.Minute), context.Background()
	claim, _, err := s.Begin(ctx, "user:u1:POST /v1/bank-accounts", "key-00100", "fp")
	if err != nil || claim == nil {
		t.Fatalf("Begin: %v", err)
	}
	keys, err := testenv.Keys(ctx, rdb, prefix+"*")
	if err != nil || len(keys) != 1 || keys[0] != prefix+"idem:user:u1:POST%20/v1/bank-accounts:key-00100" {
		t.Fatalf("keys %q", keys)
	}
	if keyPart("a b%20") != "a%20b%2520" || keyPart("{x}") != "%7Bx%7D" {
		t.Fatalf("keyPart is not an escaping: %q %q", keyPart("a b%20"), keyPart("{x}"))
	}

	// What an older release left: a completed answer, sealed under its own key, and a claim.
	oldKey := prefix + "idem:user:u2:POST /v1/bank-accounts:key-00200"
	old := &Claim{store: s, key: oldKey, fingerprint: "fp", stopRenewing: func() {}}
	old.value = string(record{Fingerprint: "fp", Owner: "old"}.encode())
	if err := rdb.Set(ctx, oldKey, old.value, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Begin(ctx, "user:u2:POST /v1/bank-accounts", "key-00200", "fp"); !errors.Is(err, ErrInProgress) {
		t.Fatalf("old claim in progress: %v", err)
	}
	if err := old.Complete(ctx, Response{Status: 201, Body: []byte(`{"id":"old"}`)}); err != nil {
		t.Fatal(err)
	}
	c, replay, err := s.Begin(ctx, "user:u2:POST /v1/bank-accounts", "key-00200", "fp")
	if err != nil || c != nil || replay == nil || string(replay.Body) != `{"id":"old"}` {
		t.Fatalf("old answer not replayed: %v %+v %v", c, replay, err)
	}
	if _, _, err := s.Begin(ctx, "user:u2:POST /v1/bank-accounts", "key-00200", "other"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("old key, other body: %v", err)
	}
	if n, _ := rdb.Exists(ctx, prefix+"idem:user:u2:POST%20/v1/bank-accounts:key-00200").Result(); n != 0 {
		t.Fatal("the claim taken while the old key decided was left behind")
	}
}
