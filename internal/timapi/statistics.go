package timapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Longest windows the sibling APIs accept (reference §2).
const (
	MaxStatisticsWindow = 30 * 24 * time.Hour
	MaxLossWindow       = 7 * 24 * time.Hour
)

// ErrWindow is wrapped by the error Statistics and Loss return, before any
// request, for a window that is empty, reversed or longer than documented.
var ErrWindow = errors.New("invalid time window")

// Statistics is the reply of v4/timpush/normal_push_statistics: unsampled
// totals of single and group message pushes in [Start, End].
type Statistics struct {
	Start, End         time.Time // the window asked for (unix-second precision)
	TotalCount         int64     // sendable
	SentCount          int64
	DeliveredCount     int64
	ClickCount         int64
	PlatformStatistics []PlatformStatistics
}

// PlatformStatistics is the same totals for one vendor.
type PlatformStatistics struct {
	PushPlatform   int // see PlatformName
	TotalCount     int64
	SentCount      int64
	DeliveredCount int64
	ClickCount     int64
}

// Loss is the reply of v4/timpush/normal_push_loss: why pushes were lost,
// before sending and after sending, overall and per vendor.
type Loss struct {
	Start, End                    time.Time
	ReadyToSendLoss               []LossReason
	PostSendDeliveredLoss         []LossReason
	PlatformReadyToSendLoss       []LossReason
	PlatformPostSendDeliveredLoss []LossReason
}

// LossReason is one row of a loss list. PushPlatform is 0 in the lists that
// are not per platform.
type LossReason struct {
	PushPlatform int
	ErrCode      string // e.g. "-1", "410"; numbers are kept as written
	ErrCount     int64
	ErrInfo      string // e.g. "token not uploaded", "regid_invalid"
}

type windowRequest struct {
	StartTime int64
	EndTime   int64
}

func checkWindow(start, end time.Time, limit time.Duration) (windowRequest, error) {
	w := windowRequest{StartTime: start.Unix(), EndTime: end.Unix()}
	if w.EndTime <= w.StartTime || end.Sub(start) > limit {
		return w, fmt.Errorf("timapi: %w: %s .. %s (must be non-empty and at most %s)",
			ErrWindow, start.Format(time.RFC3339), end.Format(time.RFC3339), limit)
	}
	return w, nil
}

type platformStatsWire struct {
	PushPlatform   flexInt
	TotalCount     flexInt
	SentCount      flexInt
	DeliveredCount flexInt
	ClickCount     flexInt
}

type statisticsWire struct {
	TotalCount         flexInt
	SentCount          flexInt
	DeliveredCount     flexInt
	ClickCount         flexInt
	PlatformStatistics []platformStatsWire
}

// Statistics fetches push totals for [start, end] (at most 30 days). Errors
// are as for Trace, plus ErrWindow.
func (c *Client) Statistics(ctx context.Context, start, end time.Time) (*Statistics, error) {
	req, err := checkWindow(start, end, MaxStatisticsWindow)
	if err != nil {
		return nil, err
	}
	var s *Statistics
	err = c.call(WithPurpose(ctx, PurposeStatistics), "normal_push_statistics", req, func(body []byte) error {
		var w statisticsWire
		if err := json.Unmarshal(body, &w); err != nil {
			return err
		}
		s = &Statistics{
			Start:          time.Unix(req.StartTime, 0),
			End:            time.Unix(req.EndTime, 0),
			TotalCount:     int64(w.TotalCount),
			SentCount:      int64(w.SentCount),
			DeliveredCount: int64(w.DeliveredCount),
			ClickCount:     int64(w.ClickCount),
		}
		for _, p := range w.PlatformStatistics {
			s.PlatformStatistics = append(s.PlatformStatistics, PlatformStatistics{
				PushPlatform:   int(p.PushPlatform),
				TotalCount:     int64(p.TotalCount),
				SentCount:      int64(p.SentCount),
				DeliveredCount: int64(p.DeliveredCount),
				ClickCount:     int64(p.ClickCount),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

type lossWire struct {
	PushPlatform flexInt
	ErrCode      flexString
	ErrCount     flexInt
	ErrInfo      flexString
}

// lossList tolerates a list, a single object or null where a list belongs:
// the documented example of this API is malformed (reference §2), so its
// real shape is uncertain.
type lossList []lossWire

func (l *lossList) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '{' {
		var one lossWire
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = lossList{one}
		return nil
	}
	return json.Unmarshal(b, (*[]lossWire)(l))
}

func (l lossList) reasons() []LossReason {
	var out []LossReason
	for _, w := range l {
		out = append(out, LossReason{
			PushPlatform: int(w.PushPlatform),
			ErrCode:      string(w.ErrCode),
			ErrCount:     int64(w.ErrCount),
			ErrInfo:      string(w.ErrInfo),
		})
	}
	return out
}

// Loss fetches loss reasons for [start, end] (at most 7 days). Errors are as
// for Trace, plus ErrWindow.
func (c *Client) Loss(ctx context.Context, start, end time.Time) (*Loss, error) {
	req, err := checkWindow(start, end, MaxLossWindow)
	if err != nil {
		return nil, err
	}
	var l *Loss
	err = c.call(WithPurpose(ctx, PurposeStatistics), "normal_push_loss", req, func(body []byte) error {
		var w struct {
			ReadyToSendLoss, PostSendDeliveredLoss                 lossList
			PlatformReadyToSendLoss, PlatformPostSendDeliveredLoss lossList
		}
		if err := json.Unmarshal(body, &w); err != nil {
			return err
		}
		l = &Loss{
			Start:                         time.Unix(req.StartTime, 0),
			End:                           time.Unix(req.EndTime, 0),
			ReadyToSendLoss:               w.ReadyToSendLoss.reasons(),
			PostSendDeliveredLoss:         w.PostSendDeliveredLoss.reasons(),
			PlatformReadyToSendLoss:       w.PlatformReadyToSendLoss.reasons(),
			PlatformPostSendDeliveredLoss: w.PlatformPostSendDeliveredLoss.reasons(),
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}
