package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// glshare is the glshare binary the broker tests run as `glshare serve`,
// built once per test binary.
var glshare struct {
	once sync.Once
	bin  string
	out  []byte
	err  error
}

// serveCommand is ServeCommand for a freshly built glshare: the broker
// the tests load is the program users run, in a process of its own.
func serveCommand(t testing.TB) ServeCommand {
	t.Helper()
	glshare.once.Do(func() {
		dir, err := os.MkdirTemp("", "glshare-bench-test-")
		if err != nil {
			glshare.err = err
			return
		}
		glshare.bin = filepath.Join(dir, "glshare")
		glshare.out, glshare.err = exec.Command("go", "build", "-o", glshare.bin, "github.com/glbridge/glbridge/cmd/glshare").CombinedOutput()
	})
	if glshare.err != nil {
		t.Fatalf("go build glshare: %v\n%s", glshare.err, glshare.out)
	}
	return func(args []string) *exec.Cmd { return exec.Command(glshare.bin, append([]string{"serve"}, args...)...) }
}

// TestLoad runs the full load of issue 16 against a glshare serve
// process: 128 connections × 1000 mixed operations, every result checked
// by RunLoad, then asserts what it reports: no failed or wrong operation,
// every kind of operation made (the keyed mutex's TIMEOUTs being the only
// errors allowed), nothing left in the broker's list, the broker's fds
// back to their count before the clients connected, no fd of this
// process left on the run's files. No time bound but RunLoad's generous
// deadline: the two-core machine is shared.
func TestLoad(t *testing.T) {
	clients, ops := 128, 1000
	if testing.Short() {
		clients, ops = 16, 200
	}
	var progress strings.Builder
	r, err := RunLoad(LoadOptions{Clients: clients, Ops: ops, Seed: 16, Serve: serveCommand(t), Progress: &progress})
	var table strings.Builder
	if r != nil {
		WriteLoadTable(&table, r)
	}
	t.Logf("%s\n%s", progress.String(), table.String())
	if err != nil {
		t.Fatal(err)
	}
	if r.Clients != clients || r.OpsPerClient != ops || r.Ops != clients*ops {
		t.Errorf("%d clients × %d operations made %d, want %d × %d", r.Clients, r.OpsPerClient, r.Ops, clients, ops)
	}
	if r.Errors != 0 || len(r.FirstErrors) != 0 {
		t.Errorf("%d errors: %q", r.Errors, r.FirstErrors)
	}
	seen := map[string]LoadOpResult{}
	for _, o := range r.PerOp {
		seen[o.Op] = o
		if o.Errors != 0 || o.Count <= 0 || o.P50Us <= 0 || o.P99Us < o.P50Us {
			t.Errorf("%+v", o)
		}
		if o.Expected != 0 && o.Op != opAcquire {
			t.Errorf("%s: %d expected errors; only an acquire may time out", o.Op, o.Expected)
		}
	}
	for _, op := range loadOps {
		if _, ok := seen[op]; !ok && (op != opAllocateVulkan || !strings.HasPrefix(r.Vulkan, "none")) {
			t.Errorf("no %s made", op)
		}
	}
	if a := seen[opAcquire]; a.Count <= a.Expected || seen[opRelease].Count != a.Count-a.Expected {
		t.Errorf("%d acquires, %d timed out, %d releases: every acquire that succeeded must release", a.Count, a.Expected, seen[opRelease].Count)
	}
	if r.ResourcesLeft != 0 || r.ClientFDsLeft != 0 || r.BrokerFDsAfter != r.BrokerFDsBefore {
		t.Errorf("left: %d resources, %d client fds; broker fds %d before, %d after", r.ResourcesLeft, r.ClientFDsLeft, r.BrokerFDsBefore, r.BrokerFDsAfter)
	}
	if r.PeakResources <= 0 || r.BrokerFDsPeak <= r.BrokerFDsBefore || r.BrokerRSSBeforeKiB <= 0 || r.BrokerRSSPeakKiB < r.BrokerRSSBeforeKiB {
		t.Errorf("peaks: %d resources, %d broker fds (%d before), RSS %d KiB peak (%d before)", r.PeakResources, r.BrokerFDsPeak, r.BrokerFDsBefore, r.BrokerRSSPeakKiB, r.BrokerRSSBeforeKiB)
	}
	if r.CloseHandles == 0 {
		t.Errorf("nothing was held at the end: the closing went untested")
	}
	if r.Seconds > time.Minute.Seconds() {
		t.Logf("the load took %.0f s, more than the minute it should on two cores", r.Seconds)
	}
}

// TestMeasureScaling measures a small grid for real against a glshare
// serve process and checks the report's shape: every pair measured in
// order, cycles made in both phases, percentiles in order, the broker's
// fds growing with its live resources (it keeps each one's memfd), and
// the targets judged only where their pairs were measured.
func TestMeasureScaling(t *testing.T) {
	var progress strings.Builder
	r, err := MeasureScaling(ScalingOptions{Clients: []int{1, 8}, Resources: []int{1000, 10}, Duration: 300 * time.Millisecond,
		PacedRate: 1000, Seed: 15, Serve: serveCommand(t), Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var table strings.Builder
	WriteScalingTable(&table, r)
	t.Logf("%s\n%s", progress.String(), table.String())
	want := [][2]int{{1, 10}, {8, 10}, {1, 1000}, {8, 1000}}
	if len(r.Cells) != len(want) {
		t.Fatalf("%d cells, want %d", len(r.Cells), len(want))
	}
	for i, x := range r.Cells {
		if x.Clients != want[i][0] || x.Resources != want[i][1] || x.Cycles <= 0 || x.RequestsPerSec <= 0 || x.PacedCycles <= 0 ||
			x.OpenP50Us <= 0 || x.OpenP99Us < x.OpenP50Us || x.PacedOpenP50Us <= 0 || x.PacedOpenP99Us < x.PacedOpenP50Us || x.PacedCloseP99Us <= 0 {
			t.Errorf("cell %d: %+v, want %d clients, %d resources", i, x, want[i][0], want[i][1])
		}
	}
	if len(r.Brokers) != 2 || r.Brokers[1].FDs < r.Brokers[0].FDs+990 || r.Brokers[0].RSSKiB <= 0 {
		t.Errorf("brokers: %+v, want the 990 more resources' fds at 1000", r.Brokers)
	}
	if len(r.Targets) != 0 {
		t.Errorf("targets judged without their pairs: %+v", r.Targets)
	}
	if !strings.Contains(table.String(), "paced open p99 µs") {
		t.Errorf("table:\n%s", table.String())
	}
}
