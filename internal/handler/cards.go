package handler

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/gopay-miniapp/bff/internal/api"
	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/service"
)

// CardRedirectURLs builds the webview's redirect targets for a binding: this service's
// /v1/card-bindings/{id}/success and /failure under its public base URL.
func CardRedirectURLs(publicBase string) func(uuid.UUID) (string, string) {
	base := strings.TrimRight(publicBase, "/") + "/v1/card-bindings/"
	return func(id uuid.UUID) (string, string) {
		return base + id.String() + "/success", base + id.String() + "/failure"
	}
}

func (s *server) StartCardBinding(ctx context.Context, req api.StartCardBindingRequestObject) (api.StartCardBindingResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	in := service.StartCardBinding{MobileNumber: deref(b.MobileNumber), UserID: deref(b.UserId), BankCode: deref(b.BankCode),
		Lang: deref(b.Lang)}
	if b.AdditionalInfo != nil {
		in.AdditionalInfo = *b.AdditionalInfo
	}
	started, err := s.cards.Start(ctx, user, in)
	if err != nil {
		return nil, err
	}
	c := cardToAPI(started.Binding)
	return api.StartCardBinding201JSONResponse{Id: c.Id, Status: api.StartedCardBindingStatus(c.Status), CreatedAt: c.CreatedAt,
		ExpiresAt: c.ExpiresAt, WebviewUrl: started.WebviewURL}, nil
}

func (s *server) ListCardBindings(ctx context.Context, _ api.ListCardBindingsRequestObject) (api.ListCardBindingsResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.cards.List(ctx, user)
	if err != nil {
		return nil, err
	}
	out := api.ListCardBindings200JSONResponse{Data: make([]api.CardBinding, 0, len(list))}
	for _, b := range list {
		out.Data = append(out.Data, cardToAPI(b))
	}
	return out, nil
}

func (s *server) CardBindingSucceeded(ctx context.Context, req api.CardBindingSucceededRequestObject) (api.CardBindingSucceededResponseObject, error) {
	to, err := s.cards.Complete(ctx, req.Id, req.Params.State, true)
	if err != nil {
		return nil, err
	}
	return api.CardBindingSucceeded302Response{Headers: api.BackToMiniAppResponseHeaders{Location: to}}, nil
}

func (s *server) CardBindingFailed(ctx context.Context, req api.CardBindingFailedRequestObject) (api.CardBindingFailedResponseObject, error) {
	to, err := s.cards.Complete(ctx, req.Id, req.Params.State, false)
	if err != nil {
		return nil, err
	}
	return api.CardBindingFailed302Response{Headers: api.BackToMiniAppResponseHeaders{Location: to}}, nil
}

func cardToAPI(b domain.CardBinding) api.CardBinding {
	out := api.CardBinding{Id: b.ID, Status: api.CardBindingStatus(b.Status), CreatedAt: b.CreatedAt.UTC(), ExpiresAt: b.ExpiresAt.UTC()}
	if !b.CompletedAt.IsZero() {
		t := b.CompletedAt.UTC()
		out.CompletedAt = &t
	}
	return out
}
