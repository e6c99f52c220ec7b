// Package idempotency remembers, in Redis shared by every instance, which requests were
// already made under an idempotency key and what they answered. A key is claimed atomically
// (SET NX) before the work starts, so of any number of concurrent duplicates across instances
// exactly one runs; the others see "in progress" until it completes, and its answer after.
package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/gopay-miniapp/bff/internal/seal"
)

var (
	// ErrInProgress: another request with this key has not finished.
	ErrInProgress = errors.New("idempotency: a request with this key is in progress")
	// ErrMismatch: this key was used for a different request.
	ErrMismatch = errors.New("idempotency: key reused with a different request")
	// ErrUnavailable: the store cannot be reached; callers must fail closed.
	ErrUnavailable = errors.New("idempotency: store unavailable")
)

// keyPattern is the accepted shape of a client's key: 8 to 64 letters, digits, '-' or '_'.
// It keeps Redis keys printable and bounded; a UUID fits.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// ValidKey reports whether a client-supplied key is acceptable.
func ValidKey(key string) bool { return keyPattern.MatchString(key) }

// Response is a completed request's answer, replayed byte for byte.
type Response struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type,omitempty"`
	Location    string `json:"location,omitempty"`
	Body        []byte `json:"body"`
}

// Store keeps records in Redis under prefix.
type Store struct {
	rdb    redis.UniversalClient
	sealer seal.Sealer // stored answers carry session and access tokens and bank details
	prefix string
	ttl    time.Duration // how long a completed answer is replayed
	lease  time.Duration // a claim's life unless renewed: how long a dead instance's claim blocks its key
}

// NewStore keeps completed answers for ttl. A claim is a lease: it lives for lease, and the
// instance running the request renews it every third of that until the request completes, so
// a slow request keeps its key however long it takes, and the claim of an instance that died
// expires within one lease.
func NewStore(rdb redis.UniversalClient, sealer seal.Sealer, prefix string, ttl, lease time.Duration) *Store {
	if rdb == nil || sealer == nil || ttl <= 0 || lease <= 0 {
		panic("idempotency.NewStore: missing dependency")
	}
	return &Store{rdb: rdb, sealer: sealer, prefix: prefix + "idem:", ttl: ttl, lease: lease}
}

// bodyAAD binds a sealed answer to its key: moved under another key, it does not open.
const bodyAAD = "idempotency.response"

// Claim is the right to run the request under a key, held until Complete or Release.
type Claim struct {
	store       *Store
	key         string
	value       string // the exact in-progress record, compared before it is replaced
	fingerprint string

	stopRenewing func() // ends the lease renewal; idempotent
}

// Begin claims key (within scope, e.g. user and route) for a request with this fingerprint.
// It returns a Claim when the caller should run the request, or the stored Response to
// replay, or ErrInProgress, ErrMismatch or ErrUnavailable.
func (s *Store) Begin(ctx context.Context, scope, key, fingerprint string) (*Claim, *Response, error) {
	rkey := s.prefix + keyPart(scope) + ":" + key
	owner := make([]byte, 16)
	_, _ = rand.Read(owner)
	value := record{Fingerprint: fingerprint, Owner: string(owner)}.encode()
	// One round trip whatever the key holds: SET NX GET (Redis 7) claims the key, or leaves it
	// and answers what is there, atomically. The same round trip reads the key as releases
	// before keyPart wrote it, so a retry that reaches this release after an older one answered
	// is replayed, not run again.
	pipe := s.rdb.Pipeline()
	claimed := pipe.SetArgs(ctx, rkey, value, redis.SetArgs{Mode: "NX", Get: true, TTL: s.lease})
	legacyKey := s.prefix + scope + ":" + key
	legacy := redis.NewStringCmd(ctx)
	legacy.SetErr(redis.Nil)
	if legacyKey != rkey {
		legacy = pipe.Get(ctx, legacyKey)
	}
	_, _ = pipe.Exec(ctx)
	raw, err := claimed.Result()
	if errors.Is(err, redis.Nil) {
		c := &Claim{store: s, key: rkey, value: string(value), fingerprint: fingerprint}
		old, lerr := legacy.Result()
		if lerr != nil {
			// No old record, or it could not be read: the claim stands. (On a Redis Cluster the
			// old key lives on another node; failing closed on its read doubled the 503s a slow
			// node causes, for a record that exists only while a rollout is under way.)
			c.renew(context.WithoutCancel(ctx))
			return c, nil, nil //nolint:nilerr // deliberate, as above
		}
		// The older release's record decides; the claim just taken is given back.
		if err := c.swap(context.WithoutCancel(ctx), "", 0); err != nil {
			return nil, nil, err
		}
		raw, rkey = old, legacyKey
	} else if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	rec, err := decodeRecord([]byte(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("idempotency: corrupt record: %w", err)
	}
	switch {
	case rec.Fingerprint != fingerprint:
		return nil, nil, ErrMismatch
	case rec.Response == nil:
		return nil, nil, ErrInProgress
	}
	body, err := s.sealer.Open(rec.Response.Body, bodyAAD, rkey)
	if err != nil {
		return nil, nil, fmt.Errorf("idempotency: stored answer does not open: %w", err)
	}
	resp := *rec.Response
	resp.Body = body
	return nil, &resp, nil
}

// keyPart encodes a scope for a Redis key: '%' and every byte that is not a letter, digit or
// one of ":/._-" as %XX, so a key never holds a space (shell clean-ups split on it) and two
// scopes never share one. Scopes name the principal and the route, e.g.
// "user:<id>:POST /v1/bank-accounts" -> "user:<id>:POST%20/v1/bank-accounts".
func keyPart(scope string) string {
	var b strings.Builder
	for i := range len(scope) {
		c := scope[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(":/._-", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// replaceIfOwned swaps the record only while it is still our claim, so an answer never
// overwrites a newer claim after ours expired.
var replaceIfOwned = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`)

// renewIfOwned extends the claim's lease while it is still ours.
var renewIfOwned = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])`)

// renew keeps the claim alive every third of its lease until stopRenewing, or until the claim
// is found lost. A renewal that fails (Redis blinking) is tried again at the next tick: the
// lease has two more thirds to go.
func (c *Claim) renew(ctx context.Context) {
	lease := c.store.lease
	done, finished := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.stopRenewing = func() { once.Do(func() { close(done); <-finished }) }
	go func() {
		defer close(finished)
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			owned, err := renewIfOwned.Run(ctx, c.store.rdb, []string{c.key}, c.value, lease.Milliseconds()).Int()
			if err == nil && owned == 0 {
				return // expired or taken over: nothing left to keep
			}
		}
	}()
}

// Abandon stops keeping the claim alive without answering it: the key frees itself within one
// lease. For a request that ends without Complete or Release (a panic).
func (c *Claim) Abandon() { c.stopRenewing() }

// Complete stores the answer for replay.
func (c *Claim) Complete(ctx context.Context, resp Response) error {
	c.stopRenewing()
	sealed, err := c.store.sealer.Seal(resp.Body, bodyAAD, c.key)
	if err != nil {
		return err
	}
	resp.Body = sealed
	return c.swap(ctx, string(record{Fingerprint: c.fingerprint, Response: &resp}.encode()), c.store.ttl)
}

// Release gives the key up without an answer, so a retry runs the request again. Used when
// the request failed in a way worth retrying (5xx).
func (c *Claim) Release(ctx context.Context) error {
	c.stopRenewing()
	return c.swap(ctx, "", 0)
}

func (c *Claim) swap(ctx context.Context, value string, ttl time.Duration) error {
	ok, err := replaceIfOwned.Run(ctx, c.store.rdb, []string{c.key}, c.value, value, ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if ok == 0 {
		return errors.New("idempotency: claim expired before the request finished")
	}
	return nil
}

// namespace makes upstream request ids derived here distinct from any other UUIDv5.
var namespace = uuid.MustParse("5b0f4a3e-9d43-4e8e-9a55-6c2b1f0f3d21")

// Fingerprint is what makes a request the request it is: its method, route and body. The body
// is compacted first (it has passed jsonguard), so whitespace a client's retry may change does
// not make it another request; member order and values do.
func Fingerprint(method, route string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method + " " + route + "\n"))
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil {
		h.Write(compact.Bytes())
	} else {
		h.Write(body)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// UpstreamRequestID derives the idempotency id sent upstream (GoPay's Request-Id) from the
// request itself: scope (the principal and the route), the client's key ("" when it sent none)
// and the body's fingerprint. The rule, for every route that sends one:
//   - two requests share an upstream id only if they agree on all three, so an id is never
//     shared by two different requests: a new body is a new upstream operation, and two users
//     (or two auth codes on the unauthenticated route, whose principal is its body) never meet,
//     whatever Redis has forgotten;
//   - the same request sent again (a retry, with or without a key) is the same upstream
//     operation, which the upstream replays instead of refusing a used token.
func UpstreamRequestID(scope, key, fingerprint string) string {
	return uuid.NewSHA1(namespace, []byte(scope+"\x00"+key+"\x00"+fingerprint)).String()
}

// ResourceRequestID derives the upstream id of an operation on a resource that is the same
// operation however often it is asked for (unbinding one account): the user, the operation
// and the resource's id. No client key or body enters it.
func ResourceRequestID(userID, operation, resourceID string) string {
	return uuid.NewSHA1(namespace, []byte("resource\x00"+userID+"\x00"+operation+"\x00"+resourceID)).String()
}

type ctxKey struct{}

// WithUpstreamRequestID stores the id a request should send upstream.
func WithUpstreamRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// UpstreamRequestIDFrom returns the id stored by WithUpstreamRequestID, or a fresh random one
// for a request that never passed the middleware (its own retries still share that id).
func UpstreamRequestIDFrom(ctx context.Context) string {
	if id, ok := ctx.Value(ctxKey{}).(string); ok {
		return id
	}
	return uuid.NewString()
}
