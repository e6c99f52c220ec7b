package handler

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/api"
	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/idempotency"
	"github.com/gopay-miniapp/bff/internal/logging"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/ratelimit"
	"github.com/gopay-miniapp/bff/internal/service"
)

// ReadinessCheck names a dependency and checks it.
type ReadinessCheck struct {
	Name  string
	Check func(context.Context) error
	// Degrades: the instance serves without it (in a documented, degraded way), so its failure
	// is reported but leaves the instance ready. A shared store every instance loses at once
	// must not take the whole fleet out of the load balancer.
	Degrades bool
}

// server implements the generated strict interface: HTTP in, domain calls, documented
// responses out. Errors go back to Echo, whose error handler renders the problem.
type server struct {
	sessions     *service.Sessions
	accounts     *service.BankAccounts
	gopay        *service.GoPayLinks
	cards        *service.CardBindings
	payments     *service.Payments
	internalAuth *service.InternalAuth
	checks       []ReadinessCheck
	metrics      *metrics.Metrics
	log          *zap.Logger
	limiter      *ratelimit.Limiter
	policies     Policies
}

var _ api.StrictServerInterface = (*server)(nil)

func (s *server) GetHealthz(context.Context, api.GetHealthzRequestObject) (api.GetHealthzResponseObject, error) {
	return api.GetHealthz200JSONResponse{Status: api.Ok}, nil
}

func (s *server) HeadHealthz(context.Context, api.HeadHealthzRequestObject) (api.HeadHealthzResponseObject, error) {
	return api.HeadHealthz200Response{}, nil
}

func (s *server) GetReadyz(ctx context.Context, _ api.GetReadyzRequestObject) (api.GetReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	for _, c := range s.checks {
		if err := c.Check(ctx); err != nil {
			// Anyone can call readyz: name the check, keep hosts, users and databases for the log.
			logging.From(ctx, s.log).Warn("readiness check failed", zap.String("check", c.Name), zap.Error(err))
			checks[c.Name] = "unavailable"
			ready = ready && c.Degrades
		} else {
			checks[c.Name] = "ok"
		}
	}
	if !ready {
		return api.GetReadyz503JSONResponse{Status: api.NotReady, Checks: checks}, nil
	}
	return api.GetReadyz200JSONResponse{Status: api.Ready, Checks: checks}, nil
}

func (s *server) CreateSession(ctx context.Context, req api.CreateSessionRequestObject) (api.CreateSessionResponseObject, error) {
	// An auth code is single-use: beyond a few retries, trying one again is guessing or replaying.
	if wait, ok := s.limiter.Allow(ctx, s.policies.SessionsPerAuthCode, ratelimit.Subject(req.Body.AuthCode)); !ok {
		return nil, tooMany(wait, "this auth code was tried too often; get a new one from the SDK")
	}
	token, exp, err := s.sessions.Open(ctx, req.Body.AuthCode, idempotency.UpstreamRequestIDFrom(ctx))
	if err != nil {
		return nil, err
	}
	return api.CreateSession201JSONResponse{
		Body:    api.Session{SessionToken: token, TokenType: api.SessionTokenTypeBearer, ExpiresAt: exp.UTC()},
		Headers: api.CreateSession201ResponseHeaders{CacheControl: noStoreValue},
	}, nil
}

func (s *server) LinkBankAccount(ctx context.Context, req api.LinkBankAccountRequestObject) (api.LinkBankAccountResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	a, created, err := s.accounts.Link(ctx, user, req.Body.AccountToken, idempotency.UpstreamRequestIDFrom(ctx))
	if err != nil {
		return nil, err
	}
	if created {
		return api.LinkBankAccount201JSONResponse(toAPI(a)), nil
	}
	return api.LinkBankAccount200JSONResponse(toAPI(a)), nil
}

func (s *server) ListBankAccounts(ctx context.Context, _ api.ListBankAccountsRequestObject) (api.ListBankAccountsResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.accounts.List(ctx, user)
	if err != nil {
		return nil, err
	}
	out := api.ListBankAccounts200JSONResponse{Data: make([]api.BankAccount, 0, len(list))}
	for _, a := range list {
		out.Data = append(out.Data, toAPI(a))
	}
	return out, nil
}

func (s *server) DeleteBankAccount(ctx context.Context, req api.DeleteBankAccountRequestObject) (api.DeleteBankAccountResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.accounts.Remove(ctx, user, req.Id); err != nil {
		return nil, err
	}
	return api.DeleteBankAccount204Response{}, nil
}

// sessionUser returns the session's user. The validator authenticated every route whose
// contract asks for a session, so its absence is a wiring bug, reported as internal.
func sessionUser(ctx context.Context) (uuid.UUID, error) {
	if u, ok := userFrom(ctx); ok {
		return u, nil
	}
	return uuid.Nil, errors.New("no session user on an authenticated route")
}

func toAPI(a domain.BankAccount) api.BankAccount {
	return api.BankAccount{
		Id:                  a.ID,
		BankCode:            a.BankCode,
		BankAccountName:     a.AccountName,
		MaskedAccountNumber: a.Masked(),
		CreatedAt:           a.CreatedAt.UTC(),
	}
}
