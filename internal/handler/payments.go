package handler

import (
	"context"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/gopay-miniapp/bff/internal/api"
	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/service"
)

type rawBodyKey struct{}

// notificationBody hands the notification route its body as it arrived: the signature is over
// those bytes (minified), not over a re-encoding of what was decoded.
func notificationBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Path() == service.NotifyPath {
			c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), rawBodyKey{}, bodyOf(c))))
		}
		return next(c)
	}
}

func money(v int64, currency string) api.Money {
	return api.Money{Value: domain.FormatMinor(v), Currency: currency}
}

func paymentToAPI(p domain.Payment, refunds []domain.Refund) api.Payment {
	out := api.Payment{Id: p.ID, UserId: p.UserID, OrderReference: p.OrderReference, PayOption: p.PayOption,
		Amount: money(p.Amount, p.Currency), Refunded: money(p.Refunded, p.Currency), State: api.PaymentState(p.State),
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(), Refunds: make([]api.Refund, 0, len(refunds))}
	if p.RedirectURL != "" && p.State == domain.PaymentRequiresAction {
		out.RedirectUrl = &p.RedirectURL
	}
	if p.FailureCode != "" {
		out.FailureCode = &p.FailureCode
	}
	if !p.SettledAt.IsZero() {
		t := p.SettledAt.UTC()
		out.SettledAt = &t
	}
	for _, f := range refunds {
		out.Refunds = append(out.Refunds, refundToAPI(f, p.Currency))
	}
	return out
}

func refundToAPI(f domain.Refund, currency string) api.Refund {
	return api.Refund{Id: f.ID, RefundReference: f.RefundReference, Amount: money(f.Amount, currency),
		State: api.RefundState(f.State), CreatedAt: f.CreatedAt.UTC()}
}

func userPaymentToAPI(p domain.Payment) api.UserPayment {
	out := api.UserPayment{Id: p.ID, PayOption: p.PayOption, Amount: money(p.Amount, p.Currency), Refunded: money(p.Refunded, p.Currency),
		State: api.UserPaymentState(p.State), CreatedAt: p.CreatedAt.UTC()}
	if p.Description != "" {
		out.Description = &p.Description
	}
	if p.RedirectURL != "" && p.State == domain.PaymentRequiresAction {
		out.RedirectUrl = &p.RedirectURL
	}
	return out
}

func minor(m api.Money, field string) (int64, error) {
	v, err := domain.ParseMinor(m.Value)
	if err != nil || v <= 0 {
		return 0, domain.Invalid(field+".value", "a positive amount with two decimals, e.g. 15000.00")
	}
	if m.Currency != "IDR" {
		return 0, domain.Invalid(field+".currency", "only IDR is supported")
	}
	return v, nil
}

func internalClient(ctx context.Context) string {
	c, _ := internalClientFrom(ctx)
	return c
}

func (s *server) CreatePayment(ctx context.Context, req api.CreatePaymentRequestObject) (api.CreatePaymentResponseObject, error) {
	b := req.Body
	amount, err := minor(b.Amount, "amount")
	if err != nil {
		return nil, err
	}
	in := service.NewPayment{UserID: req.UserId, ClientID: internalClient(ctx), OrderReference: b.OrderReference,
		PayOption: string(b.PayOption), Amount: amount, Currency: b.Amount.Currency, Description: deref(b.Description),
		ReturnURL: deref(b.ReturnUrl), DeviceID: deviceID(req.Params.XDeviceId, req.UserId)}
	for i, it := range deref(b.Items) {
		price, err := minor(it.Price, "items."+strconv.Itoa(i)+".price")
		if err != nil {
			return nil, err
		}
		in.Items = append(in.Items, domain.PaymentItem{ID: it.Id, Name: it.Name, Price: price, Quantity: it.Quantity})
	}
	p, created, err := s.payments.Create(ctx, in)
	if err != nil {
		return nil, err
	}
	if !created {
		return api.CreatePayment200JSONResponse(paymentToAPI(p, nil)), nil
	}
	return api.CreatePayment201JSONResponse(paymentToAPI(p, nil)), nil
}

func (s *server) GetPayment(ctx context.Context, req api.GetPaymentRequestObject) (api.GetPaymentResponseObject, error) {
	p, refunds, err := s.payments.Get(ctx, req.Id, internalClient(ctx))
	if err != nil {
		return nil, err
	}
	return api.GetPayment200JSONResponse(paymentToAPI(p, refunds)), nil
}

func (s *server) CancelPayment(ctx context.Context, req api.CancelPaymentRequestObject) (api.CancelPaymentResponseObject, error) {
	p, err := s.payments.Cancel(ctx, req.Id, internalClient(ctx), deref(req.Body.Reason))
	if err != nil {
		return nil, err
	}
	return api.CancelPayment200JSONResponse(paymentToAPI(p, nil)), nil
}

func (s *server) RefundPayment(ctx context.Context, req api.RefundPaymentRequestObject) (api.RefundPaymentResponseObject, error) {
	amount, err := minor(req.Body.Amount, "amount")
	if err != nil {
		return nil, err
	}
	f, err := s.payments.Refund(ctx, service.RefundRequest{PaymentID: req.Id, ClientID: internalClient(ctx),
		RefundReference: req.Body.RefundReference, Amount: amount, Reason: deref(req.Body.Reason)})
	if err != nil {
		return nil, err
	}
	return api.RefundPayment201JSONResponse(refundToAPI(f, req.Body.Amount.Currency)), nil
}

func (s *server) ListMyPayments(ctx context.Context, _ api.ListMyPaymentsRequestObject) (api.ListMyPaymentsResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.payments.ForUser(ctx, user)
	if err != nil {
		return nil, err
	}
	out := api.ListMyPayments200JSONResponse{Data: make([]api.UserPayment, 0, len(list))}
	for _, p := range list {
		out.Data = append(out.Data, userPaymentToAPI(p))
	}
	return out, nil
}

func (s *server) GetMyPayment(ctx context.Context, req api.GetMyPaymentRequestObject) (api.GetMyPaymentResponseObject, error) {
	user, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.payments.OfUser(ctx, user, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetMyPayment200JSONResponse(userPaymentToAPI(p)), nil
}

func (s *server) PaymentNotification(ctx context.Context, req api.PaymentNotificationRequestObject) (api.PaymentNotificationResponseObject, error) {
	raw, _ := ctx.Value(rawBodyKey{}).([]byte)
	ack, err := s.payments.Notify(ctx, service.Notification{Path: service.NotifyPath, Body: raw,
		Timestamp: req.Params.XTIMESTAMP, Signature: req.Params.XSIGNATURE})
	if err != nil {
		return nil, err
	}
	return api.PaymentNotification200JSONResponse{Body: api.SNAPAck{ResponseCode: ack.ResponseCode, ResponseMessage: ack.ResponseMessage},
		Headers: api.PaymentNotification200ResponseHeaders{XTIMESTAMP: ack.Timestamp}}, nil
}
