// Package tracing sets up OpenTelemetry: W3C trace context accepted on requests and passed on
// to upstream calls, and spans exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; the exporter reads the other standard OTEL_*
// variables itself. Without an endpoint nothing is exported, and the trace context is still
// carried through. Spans never carry a token, an account number or a phone number: the HTTP
// server span names the route, upstream spans the operation, database spans the SQL text
// (parameters are never recorded) and Redis spans the command name only.
package tracing

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope and service name.
const Name = "gopay-bff"

// Tracer is the service's own tracer (upstream attempts).
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// Setup installs the propagator and, when an OTLP endpoint is configured, an exporting tracer
// provider. It returns what flushes and stops it at shutdown.
func Setup(ctx context.Context, getenv func(string) string, version string) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return func(context.Context) error { return nil }, nil
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(resource.NewWithAttributes(
		semconv.SchemaURL, semconv.ServiceName(Name), semconv.ServiceVersion(version))))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}
