package timapi

import "context"

// Purposes of a call, for timpush_exporter_api_calls_total.
const (
	PurposeFirst      = "first"
	PurposeRequery    = "requery"
	PurposeTracePage  = "trace_page"
	PurposeStatistics = "statistics"
)

type purposeKey struct{}

// WithPurpose marks the calls made with ctx as being for purpose.
func WithPurpose(ctx context.Context, purpose string) context.Context {
	return context.WithValue(ctx, purposeKey{}, purpose)
}

// ClassUnexpectedReply: a well-formed reply of an undocumented shape.
// (Placeholder until the hardening branch, which defines it, is merged.)
const ClassUnexpectedReply = ClassDecode + 1

// PurposeOf is the purpose ctx carries ("" for none).
func PurposeOf(ctx context.Context) string {
	p, _ := ctx.Value(purposeKey{}).(string)
	return p
}
