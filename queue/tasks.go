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
const (
	QueueFast   = "fast"
	QueueRelax  = "relax"
	QueueGen    = "gen"
	QueueEvents = "events"
)

// Default worker queue weights: a worker picks a fast task six times as
// often as a relax task when both wait.
const (
	DefaultFastWeight  = 6
	DefaultRelaxWeight = 1
)

// LaneQueue returns the asynq queue of a lane; the zero lane is fast.
func LaneQueue(lane paimeng.Lane) string {
	if lane == paimeng.LaneRelax {
		return QueueRelax
	}
	return QueueFast
}

// WorkerQueues returns the queue weights for a worker's asynq.Config.
// Weights under 1 take the defaults (6 and 1); QueueGen, which holds only
// tasks enqueued before lanes existed, weighs as much as QueueFast.
func WorkerQueues(fastWeight, relaxWeight int) map[string]int {
	if fastWeight < 1 {
		fastWeight = DefaultFastWeight
	}
	if relaxWeight < 1 {
		relaxWeight = DefaultRelaxWeight
	}
	return map[string]int{QueueFast: fastWeight, QueueRelax: relaxWeight, QueueGen: fastWeight}
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

// newGenTask returns job j's gen:video task for its lane's queue; the task
// id is the job id.
func newGenTask(j *paimeng.Job, o TaskOptions) (*asynq.Task, error) {
	o = o.withDefaults()
	b, err := json.Marshal(genPayloadFromJob(j))
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return asynq.NewTask(TypeGenVideo, b,
		asynq.TaskID(j.ID),
		asynq.Queue(LaneQueue(j.Lane)),
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
