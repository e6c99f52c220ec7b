package handler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/gopay-miniapp/bff/internal/api"
	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/service"
)

// accountsPerPage is seed 004's page size.
const accountsPerPage = 10

// deviceID is the X-DEVICE-ID sent to GoPay: the frontend's X-Device-Id, or a stable
// pseudonym of the user (never the user id itself).
func deviceID(header *string, user uuid.UUID) string {
	if header != nil && *header != "" {
		return *header
	}
	sum := sha256.Sum256([]byte("device:" + user.String()))
	return "bff" + hex.EncodeToString(sum[:8])
}

func (s *server) LinkGoPay(ctx context.Context, req api.LinkGoPayRequestObject) (api.LinkGoPayResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	l, err := s.gopay.Link(ctx, user, service.LinkRequest{
		AuthCode: deref(b.AuthCode), LegacyAccountID: deref(b.LegacyAccountId), Phone: b.PhoneNumber,
		Name: deref(b.Name), Email: string(deref(b.Email)), DeviceID: deviceID(req.Params.XDeviceId, user),
	})
	if err != nil {
		return nil, err
	}
	return api.LinkGoPay201JSONResponse(linkToAPI(l)), nil
}

func (s *server) GetGoPayLink(ctx context.Context, req api.GetGoPayLinkRequestObject) (api.GetGoPayLinkResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	l, err := s.gopay.Status(ctx, user, deviceID(req.Params.XDeviceId, user))
	if err != nil {
		return nil, err
	}
	return api.GetGoPayLink200JSONResponse(linkToAPI(l)), nil
}

func (s *server) UnlinkGoPay(ctx context.Context, req api.UnlinkGoPayRequestObject) (api.UnlinkGoPayResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.gopay.Unlink(ctx, user, deviceID(req.Params.XDeviceId, user)); err != nil {
		return nil, err
	}
	return api.UnlinkGoPay204Response{}, nil
}

func (s *server) ListGoPayPaymentOptions(ctx context.Context, req api.ListGoPayPaymentOptionsRequestObject) (api.ListGoPayPaymentOptionsResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	o, err := s.gopay.PaymentOptions(ctx, user, deviceID(req.Params.XDeviceId, user), deref(req.Params.Refresh))
	if err != nil {
		return nil, err
	}
	out := api.ListGoPayPaymentOptions200JSONResponse{RefreshedAt: o.RefreshedAt.UTC(), Stale: o.Stale,
		PaymentOptions: make([]api.PaymentOption, 0, len(o.Options))}
	if o.RefreshError != nil {
		out.StaleReason = &o.RefreshError.Code
		s.metrics.StaleOptions.WithLabelValues(o.RefreshError.Code, "user").Inc()
	}
	for _, p := range o.Options {
		out.PaymentOptions = append(out.PaymentOptions, api.PaymentOption{Name: p.Name, Active: p.Active,
			Balance: api.Money{Value: p.Balance, Currency: p.Currency}})
	}
	return out, nil
}

func (s *server) CreateInternalAccessToken(ctx context.Context, _ api.CreateInternalAccessTokenRequestObject) (api.CreateInternalAccessTokenResponseObject, error) {
	client, ok := internalClientFrom(ctx)
	if !ok {
		return nil, fmt.Errorf("no internal client on an authenticated route")
	}
	token, _, err := s.internalAuth.Issue(client)
	if err != nil {
		return nil, err
	}
	s.metrics.TokenRequests.WithLabelValues("issued").Inc()
	return api.CreateInternalAccessToken200JSONResponse{
		Body: api.InternalToken{AccessToken: token, TokenType: api.InternalTokenTokenTypeBearer,
			ExpiresIn: int(s.internalAuth.TTL().Seconds())},
		Headers: api.CreateInternalAccessToken200ResponseHeaders{CacheControl: noStoreValue},
	}, nil
}

func (s *server) GetInternalPaymentOptions(ctx context.Context, req api.GetInternalPaymentOptionsRequestObject) (api.GetInternalPaymentOptionsResponseObject, error) {
	user := req.UserId
	o, err := s.gopay.PaymentOptions(ctx, user, deviceID(req.Params.XDeviceId, user), deref(req.Params.Refresh))
	if err != nil {
		return nil, err
	}
	out := api.GetInternalPaymentOptions200JSONResponse{UserId: user, LinkId: o.Link.ID,
		RefreshedAt: o.RefreshedAt.UTC(), AgeSeconds: int(time.Since(o.RefreshedAt).Seconds()), Stale: o.Stale,
		PaymentOptions: make([]api.InternalPaymentOption, 0, len(o.Options))}
	if o.RefreshError != nil {
		out.StaleReason = &o.RefreshError.Code
		s.metrics.StaleOptions.WithLabelValues(o.RefreshError.Code, "internal").Inc()
	}
	for _, p := range o.Options {
		out.PaymentOptions = append(out.PaymentOptions, api.InternalPaymentOption{Name: p.Name, Active: p.Active,
			Balance: api.Money{Value: p.Balance, Currency: p.Currency}, Token: p.Token})
	}
	return out, nil
}

func (s *server) ListAccounts(ctx context.Context, req api.ListAccountsRequestObject) (api.ListAccountsResponseObject, error) {
	page := 1
	if req.Params.Page != nil {
		page = *req.Params.Page
	}
	links, total, err := s.gopay.Links(ctx, page, accountsPerPage)
	if err != nil {
		return nil, err
	}
	out := api.ListAccounts200JSONResponse{Status: http.StatusOK, Success: true, Data: make([]api.AccountItem, 0, len(links))}
	for _, l := range links {
		out.Data = append(out.Data, api.AccountItem{Id: fmt.Sprint(l.ID), Name: l.Name, Email: l.Email,
			Phone: "62" + l.Phone, Status: api.AccountItemStatus(l.Status)})
	}
	totalPages := (total + accountsPerPage - 1) / accountsPerPage
	p := api.Pagination{Count: len(out.Data), Total: total, PerPage: accountsPerPage, CurrentPage: page, TotalPages: totalPages}
	if page > 1 {
		prev := fmt.Sprintf("/api/v1.0/accounts?page=%d", min(page-1, max(totalPages, 1)))
		p.Links.Prev = &prev
	}
	if page < totalPages {
		next := fmt.Sprintf("/api/v1.0/accounts?page=%d", page+1)
		p.Links.Next = &next
	}
	out.Pagination = p
	return out, nil
}

func linkToAPI(l domain.GoPayLink) api.GoPayLink {
	out := api.GoPayLink{Id: l.ID, Mode: api.GoPayLinkMode(l.Mode), Status: api.GoPayLinkStatus(l.Status),
		MaskedPhoneNumber: l.MaskedPhone(), CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
	if l.Name != "" {
		out.Name = &l.Name
	}
	if l.Status == domain.LinkPending && l.ActivationURL != "" {
		out.ActivationUrl = &l.ActivationURL
	}
	if !l.OptionsRefreshedAt.IsZero() {
		t := l.OptionsRefreshedAt.UTC()
		out.OptionsRefreshedAt = &t
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
