package tracepage

import (
	"fmt"
	"math"
	"time"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Result is the JSON reply of a successful query, and what the HTML page
// shows. Fields tagged "-" exist for the page only. The JSON shape is
// documented in the package comment; add fields, never rename or remove.
type Result struct {
	App       string     `json:"app"`
	PushID    string     `json:"push_id"`
	Instances []Instance `json:"instances"` // [] (never null) for an empty trace
}

// Instance is one element of InstanceTrace: the push on one IM instance.
type Instance struct {
	InstanceID          string  `json:"instance_id"`
	Platform            string  `json:"platform"` // timapi.PlatformName: apns, huawei, ..., unknown
	System              string  `json:"system"`
	SystemVersion       string  `json:"system_version"`
	DeviceModel         string  `json:"device_model"`
	NotificationEnabled bool    `json:"notification_enabled"` // NotificationStatus == 1
	PushTime            *string `json:"push_time"`            // RFC 3339 in the app's zone; null if unknown
	Stages              []Stage `json:"stages"`               // always the seven stages, in order

	PushPlatform int    `json:"-"`
	Notification string `json:"-"` // "on", "off or unknown", "unknown (N)"
	PushTimeText string `json:"-"`
	Summary      string `json:"-"` // how far the push got, in a few words
	SummaryClass string `json:"-"` // ok, fail, wait
	HasOnline    bool   `json:"-"`
}

// Stage is one stage of one instance.
type Stage struct {
	Stage        string   `json:"stage"`  // im, offline, channel, device, click, online_channel, online_device
	Status       string   `json:"status"` // success, failure, not_reported
	ErrorCode    int      `json:"error_code"`
	ErrorInfo    string   `json:"error_info"`    // Tencent's text, as received
	Meaning      string   `json:"meaning"`       // failures only: Describe's text, else ErrorInfo
	EventTime    *string  `json:"event_time"`    // RFC 3339 in the app's zone; null if not reported
	DelaySeconds *float64 `json:"delay_seconds"` // EventTime - PushTime; null if either is unknown

	Title     string `json:"-"` // "Vendor channel"
	CodeText  string `json:"-"` // ErrorCode as the metrics label it (timapi.CodeLabel)
	Note      string `json:"-"` // status text shown on the page
	TimeText  string `json:"-"`
	DelayText string `json:"-"` // "+2.3s", "+6d 6h"
}

// Status values of Stage.
const (
	StatusSuccess     = "success"
	StatusFailure     = "failure"
	StatusNotReported = "not_reported"
)

var stageTitles = [timapi.NumStages]string{
	"IM server", "Offline push", "Vendor channel", "Device arrival", "Click",
	"Online channel", "Online device",
}

// pageTime is how times are shown: the zone is named once in the page header.
const pageTime = "2006-01-02 15:04:05"

// describer is Options.Describe.
type describer func(platform, stage string, code int, info string) string

func buildResult(app string, tr *timapi.Trace, loc *time.Location, describe describer) Result {
	res := Result{App: app, PushID: tr.PushID, Instances: make([]Instance, 0, len(tr.Instances))}
	for i := range tr.Instances {
		res.Instances = append(res.Instances, buildInstance(&tr.Instances[i], loc, describe))
	}
	return res
}

func buildInstance(in *timapi.Instance, loc *time.Location, describe describer) Instance {
	out := Instance{
		InstanceID:          in.InstanceID,
		Platform:            timapi.PlatformName(in.PushPlatform),
		System:              in.System,
		SystemVersion:       in.SystemVersion,
		DeviceModel:         in.DeviceModel,
		NotificationEnabled: in.NotificationStatus == 1,
		PushTime:            rfc3339(in.PushTime, loc),
		PushPlatform:        in.PushPlatform,
		PushTimeText:        shown(in.PushTime, loc),
		HasOnline:           in.HasOnline,
		Stages:              make([]Stage, 0, timapi.NumStages),
	}
	// Documented only as "whether the notification bar was enabled"; the
	// documented example has 0 for a device that received and clicked the
	// push, so 0 cannot be read as "off" for sure.
	switch in.NotificationStatus {
	case 1:
		out.Notification = "on"
	case 0:
		out.Notification = "off or unknown"
	default:
		out.Notification = fmt.Sprintf("unknown (%d)", in.NotificationStatus)
	}
	for s := timapi.Stage(0); s < timapi.NumStages; s++ {
		out.Stages = append(out.Stages, buildStage(s, in, loc, describe))
	}
	out.Summary, out.SummaryClass = summarize(out.Stages)
	return out
}

func buildStage(s timapi.Stage, in *timapi.Instance, loc *time.Location, describe describer) Stage {
	r := in.Stages[s]
	st := Stage{Stage: s.String(), Title: stageTitles[s], ErrorCode: r.ErrorCode, ErrorInfo: r.ErrorInfo,
		CodeText: timapi.CodeLabel(r.ErrorCode)}
	switch r.Status {
	case timapi.StatusSuccess:
		st.Status, st.Note = StatusSuccess, "success"
	case timapi.StatusFailure:
		st.Status, st.Note = StatusFailure, "failure"
		if describe != nil {
			st.Meaning = describe(timapi.PlatformName(in.PushPlatform), st.Stage, r.ErrorCode, r.ErrorInfo)
		}
		if st.Meaning == "" {
			st.Meaning = r.ErrorInfo
		}
	default:
		st.Status, st.Note = StatusNotReported, "not reported yet"
		if s >= timapi.StageOnlineChannel && !in.HasOnline {
			st.Note = "no online route in reply"
		}
	}
	if !r.Reported() {
		return st
	}
	st.EventTime = rfc3339(r.EventTime, loc)
	st.TimeText = shown(r.EventTime, loc)
	if !r.EventTime.IsZero() && !in.PushTime.IsZero() {
		d := r.EventTime.Sub(in.PushTime)
		secs := d.Seconds()
		st.DelaySeconds = &secs
		st.DelayText = FormatDelay(d)
	}
	return st
}

// summarize names the first failure, else the best outcome: clicked, then
// delivered (by either route), else the furthest stage reached.
func summarize(stages []Stage) (text, class string) {
	furthest := ""
	clicked, delivered := false, false
	for _, st := range stages {
		switch st.Status {
		case StatusFailure:
			text := "failed at " + st.Title
			if st.ErrorCode != 0 {
				text += " (" + st.CodeText + ")"
			}
			return text, "fail"
		case StatusSuccess:
			furthest = st.Title
			clicked = clicked || st.Title == stageTitles[timapi.StageClick]
			delivered = delivered || st.Title == stageTitles[timapi.StageDevice] || st.Title == stageTitles[timapi.StageOnlineDevice]
		}
	}
	switch {
	case clicked:
		return "clicked", "ok"
	case delivered:
		return "delivered", "ok"
	case furthest == "":
		return "nothing reported yet", "wait"
	}
	return "reached " + furthest, "wait"
}

func rfc3339(t time.Time, loc *time.Location) *string {
	if t.IsZero() {
		return nil
	}
	s := t.In(loc).Format(time.RFC3339)
	return &s
}

func shown(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(pageTime)
}

// FormatDelay writes a delay from the push time compactly: "+0s", "+2.3s",
// "+4m 05s", "+3h 12m", "+6d 6h". Negative delays (the API does not
// guarantee ordered times) get a minus sign.
func FormatDelay(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	switch {
	case d < time.Minute:
		s := d.Seconds()
		if s == math.Trunc(s) {
			return fmt.Sprintf("%s%.0fs", sign, s)
		}
		// One decimal, but never round up into "60.0s".
		return fmt.Sprintf("%s%.1fs", sign, math.Floor(s*10)/10)
	case d < time.Hour:
		d = d.Truncate(time.Second)
		return fmt.Sprintf("%s%dm %02ds", sign, int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%s%dh %dm", sign, int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	days := int(d / (24 * time.Hour))
	return fmt.Sprintf("%s%dd %dh", sign, days, int(d%(24*time.Hour)/time.Hour))
}
