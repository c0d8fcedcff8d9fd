// Package queue carries work between front ends and GPU workers over
// asynq on Redis: the Submitter holds credits and writes queued jobs, the
// Dispatcher hands them to asynq in fair-share order (one lane queue per
// Lane), the Worker renders them, and the Finisher (in the front-end
// process) settles credits and delivers results when the job:finished
// event comes back. The database stays the source of truth; the
// Reconciler repairs whatever Redis loses.
package queue

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/paimeng/paimeng"
)

// Task types.
const (
	TypeGenVideo    = "gen:video"
	TypeJobFinished = "job:finished"
)

// Queue names. Workers serve the lane queues QueueFast and QueueRelax (and
// QueueGen, where versions before lanes put their tasks); front-end
// processes serve QueueEvents.
//
// Each engine has its own lane queues (EngineQueue), so a worker takes
// only tasks it can render. The camera engine (DefaultEngine), the only
// one before engines had queues, keeps the bare names QueueFast,
// QueueRelax and QueueGen: tasks queued by older versions are still
// served. Any other engine's queues are "fast:<engine>" and
// "relax:<engine>".
const (
	QueueFast   = "fast"
	QueueRelax  = "relax"
	QueueGen    = "gen"
	QueueEvents = "events"
)

// DefaultEngine is the engine of tasks without one and of the bare lane
// queues.
const DefaultEngine = "camera"

// Default worker queue weights: a worker picks a fast task six times as
// often as a relax task when both wait.
const (
	DefaultFastWeight  = 6
	DefaultRelaxWeight = 1
)

// LaneQueue returns the asynq queue of a lane for the default engine; the
// zero lane is fast.
func LaneQueue(lane paimeng.Lane) string {
	if lane == paimeng.LaneRelax {
		return QueueRelax
	}
	return QueueFast
}

// EngineQueue returns the asynq queue of a lane for an engine: the bare
// lane queue for DefaultEngine (and ""), "<lane>:<engine>" for others.
func EngineQueue(lane paimeng.Lane, engine string) string {
	if engine == "" || engine == DefaultEngine {
		return LaneQueue(lane)
	}
	return LaneQueue(lane) + ":" + engine
}

// queueEngine returns the engine and lane of a gen queue name, and false
// for a queue that is not one (events, gen).
func queueEngine(qname string) (engine string, lane paimeng.Lane, ok bool) {
	l, e, _ := strings.Cut(qname, ":")
	switch l {
	case QueueFast:
		lane = paimeng.LaneFast
	case QueueRelax:
		lane = paimeng.LaneRelax
	default:
		return "", "", false
	}
	if e == "" {
		e = DefaultEngine
	}
	return e, lane, true
}

// WorkerQueues returns the queue weights for a worker's asynq.Config: both
// lane queues of every engine it serves (no engines means DefaultEngine),
// and QueueGen, which holds only camera tasks enqueued before lanes
// existed, when it serves DefaultEngine. Weights under 1 take the defaults
// (6 and 1); QueueGen weighs as much as a fast queue.
func WorkerQueues(fastWeight, relaxWeight int, engines ...string) map[string]int {
	if fastWeight < 1 {
		fastWeight = DefaultFastWeight
	}
	if relaxWeight < 1 {
		relaxWeight = DefaultRelaxWeight
	}
	if len(engines) == 0 {
		engines = []string{DefaultEngine}
	}
	q := map[string]int{}
	for _, e := range engines {
		q[EngineQueue(paimeng.LaneFast, e)] = fastWeight
		q[EngineQueue(paimeng.LaneRelax, e)] = relaxWeight
		if e == DefaultEngine {
			q[QueueGen] = fastWeight
		}
	}
	return q
}

// ProgressChannel is the Redis pub/sub channel carrying progress events.
const ProgressChannel = "paimeng:progress"

// Defaults for task options.
const (
	DefaultTaskTimeout = 10 * time.Minute
	DefaultMaxRetry    = 3
	DefaultRetention   = 24 * time.Hour
)

// GenPayload is the gen:video task payload: everything a worker needs and
// nothing that touches money or chat platforms.
type GenPayload struct {
	JobID    string `json:"job_id"`
	ImageKey string `json:"image_key"`
	Prompt   string `json:"prompt"`
	Seconds  int    `json:"seconds"`
	Seed     int64  `json:"seed"`
	Engine   string `json:"engine,omitempty"`
	// Mode is the quality tier; "" (tasks from older versions) means std.
	Mode paimeng.Mode `json:"mode,omitempty"`
	// Shot is the camera script; nil (tasks from older versions) lets the
	// engine read none and use its default move.
	Shot *paimeng.Shot `json:"shot,omitempty"`
	// TailKey is the blob key of the end frame; "" when none.
	TailKey string `json:"tail_key,omitempty"`
	// FPS is the frame rate; 0 means 24.
	FPS int `json:"fps,omitempty"`
	// Resolution is 0 (the engine default), 540, 720 or 1080.
	Resolution int            `json:"resolution,omitempty"`
	Aspect     paimeng.Aspect `json:"aspect,omitempty"`
}

// FinishedPayload is the job:finished task payload.
type FinishedPayload struct {
	paimeng.Outcome
}

// ProgressEvent is published on ProgressChannel while a job runs.
type ProgressEvent struct {
	JobID string `json:"job_id"`
	Stage string `json:"stage"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// VideoKey and PosterKey are where a job's results live in the blob store.
func VideoKey(jobID string) string  { return "jobs/" + jobID + "/video.mp4" }
func PosterKey(jobID string) string { return "jobs/" + jobID + "/poster.jpg" }
func imageKey(jobID string) string  { return "jobs/" + jobID + "/input" }
func tailKey(jobID string) string   { return "jobs/" + jobID + "/tail" }

// TaskOptions control how gen:video tasks are enqueued.
type TaskOptions struct {
	Timeout   time.Duration // per attempt; default DefaultTaskTimeout
	MaxRetry  int           // transient failures; default DefaultMaxRetry; negative means none
	Retention time.Duration // how long finished tasks are kept; default DefaultRetention
}

func (o TaskOptions) withDefaults() TaskOptions {
	if o.Timeout < time.Second {
		// asynq silently breaks tasks with a timeout under a second.
		o.Timeout = DefaultTaskTimeout
	}
	if o.MaxRetry == 0 {
		o.MaxRetry = DefaultMaxRetry
	} else if o.MaxRetry < 0 {
		o.MaxRetry = 0
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	return o
}

// Deadline is how long a job may stay unfinished before the reconciler
// gives up on it: every attempt timing out, plus backoff slack.
func (o TaskOptions) Deadline() time.Duration {
	o = o.withDefaults()
	return time.Duration(o.MaxRetry+1)*o.Timeout + 30*time.Minute
}

// newGenTask returns job j's gen:video task for its engine's lane queue;
// the task id is the job id.
func newGenTask(j *paimeng.Job, o TaskOptions) (*asynq.Task, error) {
	o = o.withDefaults()
	b, err := json.Marshal(genPayloadFromJob(j))
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return asynq.NewTask(TypeGenVideo, b,
		asynq.TaskID(j.ID),
		asynq.Queue(EngineQueue(j.Lane, j.Engine)),
		asynq.MaxRetry(o.MaxRetry),
		asynq.Timeout(o.Timeout),
		asynq.Retention(o.Retention),
	), nil
}

func finishedTaskID(jobID string) string { return "finished:" + jobID }

func newFinishedTask(o paimeng.Outcome) (*asynq.Task, error) {
	b, err := json.Marshal(FinishedPayload{Outcome: o})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return asynq.NewTask(TypeJobFinished, b,
		asynq.TaskID(finishedTaskID(o.JobID)),
		asynq.Queue(QueueEvents),
		asynq.MaxRetry(25),
		asynq.Timeout(5*time.Minute),
		asynq.Retention(DefaultRetention),
	), nil
}

func genPayloadFromJob(j *paimeng.Job) GenPayload {
	shot := j.Shot
	return GenPayload{
		JobID: j.ID, ImageKey: j.ImageKey, Prompt: j.Prompt, Seconds: j.Seconds, Seed: j.Seed, Engine: j.Engine, Mode: j.Mode,
		Shot: &shot, TailKey: j.TailKey, FPS: j.FPS, Resolution: j.Resolution, Aspect: j.Aspect,
	}
}
