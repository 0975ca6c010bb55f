// Package timapi is a client for Tencent Cloud Chat's push REST API
// (v4/timpush/...). It hides request signing (UserSig), the query parameters,
// lenient decoding of replies, the classification of error codes, and the
// retry policy. Every attempt, including retries, first waits on the app's
// rate limiter, so the client can never exceed the configured call rate,
// and is counted in Metrics: by purpose (WithPurpose), by error code, and
// by duration.
//
// It knows nothing of the collector or of where PushIDs come from.
package timapi
