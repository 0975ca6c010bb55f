package tracepage

import (
	"testing"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// A clicked push that also went through the online route is "clicked":
// the online route's stages come after the click in stage order.
func TestSummarizeClickedWinsOverOnlineRoute(t *testing.T) {
	var stages []Stage
	for s := timapi.Stage(0); s < timapi.NumStages; s++ {
		stages = append(stages, Stage{Title: stageTitles[s], Status: StatusSuccess})
	}
	if text, class := summarize(stages); text != "clicked" || class != "ok" {
		t.Fatalf("summarize = %q %q, want clicked ok", text, class)
	}
	stages[timapi.StageClick].Status = ""
	if text, _ := summarize(stages); text != "delivered" {
		t.Fatalf("summarize without click = %q, want delivered", text)
	}
}
