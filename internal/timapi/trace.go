package timapi

import "time"

// Stage is one step of a push's journey as the trace API reports it.
type Stage int

// The stages, in the order a push goes through them. Their String values are
// the `stage` label values of the exported metrics.
const (
	StageIM            Stage = iota // IMCommitStat.IMStat: the IM server committed the push
	StageOffline                    // OfflinePushStat.OfflineStat: submitted to the offline push service
	StageChannel                    // OfflinePushStat.ChannelStat: accepted by the vendor channel
	StageDevice                     // OfflinePushStat.DeviceStat: arrived on the device
	StageClick                      // OfflinePushStat.ClickStat: the user clicked it
	StageOnlineChannel              // OnlinePushStat.ChannelStat: online (long connection) route
	StageOnlineDevice               // OnlinePushStat.DeviceStat
	NumStages
)

var stageNames = [NumStages]string{"im", "offline", "channel", "device", "click", "online_channel", "online_device"}

func (s Stage) String() string {
	if s < 0 || s >= NumStages {
		return "unknown"
	}
	return stageNames[s]
}

// Status of one stage. Anything other than 1 or 2 in a reply means the stage
// has not been reported (yet).
type Status int

const (
	StatusUnreported Status = 0
	StatusSuccess    Status = 1
	StatusFailure    Status = 2
)

// StageResult is one `*Stat` object of the reply.
type StageResult struct {
	Status    Status
	ErrorCode int
	ErrorInfo string
	// EventTime is parsed in the app's configured zone; zero when absent or unparsable.
	EventTime time.Time
}

// Reported tells whether the stage has an outcome.
func (r StageResult) Reported() bool {
	return r.Status == StatusSuccess || r.Status == StatusFailure
}

// Instance is one element of InstanceTrace: the push on one IM instance (a login on a device).
type Instance struct {
	InstanceID         string
	PushTime           time.Time // zero when absent or unparsable
	DeviceModel        string
	System             string
	SystemVersion      string
	PushPlatform       int // 0 unknown, 1 APNs, 2 Xiaomi, 3 Huawei, 4 FCM, 5 Meizu, 6 OPPO, 7 vivo, 8 Honor
	NotificationStatus int // whether the notification bar was enabled; meaning of values beyond 0/1 is not documented
	LastActiveTerminal int
	SdkVersion         string
	PushVersion        string
	// Stages holds every stage; unreported ones have Status StatusUnreported.
	Stages [NumStages]StageResult
	// HasOnline is false when OnlinePushStat was absent from the reply.
	HasOnline bool
}

// Trace is the decoded reply of v4/timpush/normal_push_trace for one PushID.
type Trace struct {
	PushID    string
	Instances []Instance
}

// PlatformName maps PushPlatform to the `platform` label value.
func PlatformName(p int) string {
	switch p {
	case 0:
		return "unknown"
	case 1:
		return "apns"
	case 2:
		return "xiaomi"
	case 3:
		return "huawei"
	case 4:
		return "fcm"
	case 5:
		return "meizu"
	case 6:
		return "oppo"
	case 7:
		return "vivo"
	case 8:
		return "honor"
	default:
		return "other"
	}
}
