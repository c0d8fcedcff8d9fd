package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The packages a worker runs (engines, rendering, the queue's worker half
// and the blob store) pull in no chat SDK and no database driver, and the
// front ends pull in no ONNX Runtime: workers hold no chat tokens and no
// database credentials, and a front-end box needs no model runtime.
func TestDependencyBoundaries(t *testing.T) {
	deps := func(pkgs ...string) []string {
		t.Helper()
		out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %v: %v\n%s", pkgs, err, out)
		}
		return strings.Fields(string(out))
	}
	const mod = "github.com/paimeng/paimeng"
	worker := deps(mod+"/queue", mod+"/inference", mod+"/media", mod+"/blob")
	for _, d := range worker {
		for _, banned := range []string{
			"github.com/bwmarrin/discordgo",
			"github.com/go-telegram-bot-api",
			"github.com/silenceper/wechat",
			"gorm.io/",
			"github.com/jackc/pgx",
			"github.com/glebarez/sqlite",
			mod + "/bots/",
			mod + "/credits",
		} {
			if strings.HasPrefix(d, banned) {
				t.Errorf("worker path depends on %s", d)
			}
		}
	}
	front := deps(mod+"/bots/...", mod+"/credits", mod+"/queue")
	for _, d := range front {
		if strings.HasPrefix(d, "github.com/yalue/onnxruntime_go") || d == mod+"/inference" ||
			d == mod+"/kernels" || strings.HasPrefix(d, "github.com/ebitengine/purego") {
			t.Errorf("front ends depend on %s", d)
		}
	}
	if len(worker) < 10 || len(front) < 10 {
		t.Fatalf("suspiciously short dependency lists: %d, %d", len(worker), len(front))
	}
}
