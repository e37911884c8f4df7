package notify

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/casestudies/notification/senders"
	"github.com/sysdesign/patterns/internal/redistest"
)

// onRedis keeps the service in Redis under a prefix of its own.
func onRedis(c redis.UniversalClient, prefix string) harnessOption {
	return func(cfg *Config) {
		cfg.Redis = c
		cfg.Prefix = prefix
		cfg.RedisTimeout = 10 * time.Second // a loaded test machine, not a Redis that is down
	}
}

// The suite that does not depend on the breakers' or limits' clocks (on
// Redis those are the server's) runs on every Redis target as on memory.
var portable = map[string]func(t *testing.T, opts ...harnessOption){
	"DeliversEveryChannel":                   testDeliversEveryChannel,
	"IdempotencyKeyUnderConcurrency":         testIdempotencyKeyUnderConcurrency,
	"OptedOutChannelIsSkipped":               testOptedOutChannelIsSkipped,
	"QuietHoursAcrossTimeZones":              testQuietHoursAcrossTimeZones,
	"TransientFailuresRetryWithExactBackoff": testTransientFailuresRetryWithExactBackoff,
	"AttemptsRunOutThenFailed":               testAttemptsRunOutThenFailed,
	"PermanentFailureFailsAtOnce":            testPermanentFailureFailsAtOnce,
	"ScheduledDeliveredOnTime":               testScheduledDeliveredOnTime,
	"CancelBeforeStart":                      testCancelBeforeStart,
	"CancelRacesWorkers":                     testCancelRacesWorkers,
	"CriticalArrivingLastIsDeliveredFirst":   testCriticalArrivingLastIsDeliveredFirst,
}

func TestOnRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, test := range portable {
			t.Run(name, func(t *testing.T) {
				test(t, onRedis(tg.Client, tg.Prefix+name+":"))
			})
		}
	})
}

func TestRedisDownAnswers503ThenRecovers(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		h := newHarness(t, onRedis(tg.Client, tg.Prefix))
		at := h.clock.Now().Add(time.Minute).UTC().Format(time.RFC3339)
		before := h.post(map[string]any{"user_id": "ann", "channels": []string{"email"}, "body": "b", "send_at": at})

		tg.Cut()
		var res map[string]string
		req := map[string]any{"user_id": "ann", "channels": []string{"email", "sms"}, "body": "b", "idempotency_key": "k1"}
		assert.Equal(t, http.StatusServiceUnavailable, h.do("POST", "/api/notifications", req, &res))
		assert.NotEmpty(t, res["error"])
		assert.Equal(t, http.StatusServiceUnavailable, h.do("GET", "/api/notifications/"+before, nil, nil))
		h.clock.Advance(time.Minute) // the scheduled one comes due while Redis is away
		time.Sleep(20 * time.Millisecond)
		tg.Heal()

		h.waitStatus(before, "email", Sent)
		// Once the sent one is acked (just after its status is recorded),
		// the queue is empty: the refused post left no job.
		eventually(t, func() bool {
			ready, scheduled, leased, err := h.svc.queue.Len(context.Background())
			return err == nil && ready+scheduled+leased == 0
		}, "the refused post left a job")
		// Nothing half-written: the key the refused post claimed (if it got
		// that far) was released, so the retry is a new notification.
		id := h.post(req)
		h.waitStatus(id, "email", Sent)
		h.waitStatus(id, "sms", Sent)
		assert.Len(t, h.sent(), 3)
	})
}

func TestTwoInstancesShareOneRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clock := clockAtStart()
		a := newHarnessAt(t, clock, true, onRedis(tg.Client, tg.Prefix))
		b := newHarnessAt(t, clock, true, onRedis(tg.Client, tg.Prefix))

		var ids []string
		for i := range 20 {
			h := []*harness{a, b}[i%2]
			ids = append(ids, h.post(map[string]any{"user_id": fmt.Sprintf("u%d", i), "channels": []string{"push"}, "body": "b"}))
		}
		for _, id := range ids {
			b.waitStatus(id, "push", Sent) // read on b whichever instance took it
		}
		seen := map[string]int{}
		for _, m := range append(a.sent(), b.sent()...) {
			seen[m.ID]++
		}
		assert.Len(t, seen, 20)
		for id, n := range seen {
			assert.Equal(t, 1, n, "%s sent %d times", id, n)
		}

		// One idempotency key across instances: one notification.
		req := map[string]any{"user_id": "ann", "channels": []string{"email"}, "body": "b", "idempotency_key": "shared"}
		shared := a.post(req)
		assert.Equal(t, shared, b.post(req))
		// Its delivery reads ann's preferences; let it finish, so that its
		// read cannot race the update below.
		a.waitStatus(shared, "email", Sent)
		ttl, err := tg.Client.PTTL(context.Background(), tg.Prefix+"idem:"+idemKey("ann", "shared")).Result()
		require.NoError(t, err)
		assert.InDelta(t, DefaultIdempotencyTTL.Seconds(), ttl.Seconds(), 60, "the key lives 24 h")

		// A preference change on one instance applies to the other's next dispatch.
		require.Equal(t, http.StatusOK, a.do("PUT", "/api/users/ann/preferences", map[string]any{"opt_out": []string{"sms"}}, nil))
		id := b.post(map[string]any{"user_id": "ann", "channels": []string{"sms"}, "body": "b"})
		a.waitStatus(id, "sms", Skipped)
	})
}

func TestWorkerKilledMidDeliveryIsReclaimed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		const visibility = 300 * time.Millisecond
		entered := make(chan senders.Message, 1)
		release := make(chan struct{})
		var once sync.Once
		t.Cleanup(func() { once.Do(func() { close(release) }) })
		stuck := senders.SenderFunc(func(ctx context.Context, m senders.Message) error {
			entered <- m
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
		clock := clockAtStart()
		// a runs on a client of its own, so that cutting it off is a crash
		// as far as Redis can tell: its leases stop being renewed.
		ac, af := tg.NewClient()
		// One worker, held in the send: an idle worker of a's would be
		// polling the queue, and a take it sent just before the cut can run
		// after the clock moved below, reclaim a's lease and lease the job
		// to a once more (a crash that counts two attempts, not one).
		a := newHarnessAt(t, clock, true, onRedis(ac, tg.Prefix), func(c *Config) {
			c.Senders["email"] = stuck
			c.VisibilityTimeout = visibility
			c.Workers = 1
		})
		id := a.post(map[string]any{"user_id": "ann", "channels": []string{"email"}, "body": "b"})
		m := <-entered
		assert.Equal(t, 1, m.Attempt)
		af.Cut()
		a.crashed = true

		// b keeps its leases far longer than a did, so that the clock moves
		// below, which expire a's lease, never expire b's own (it renews on
		// the real clock) however slowly a loaded machine lets b deliver.
		b := newHarnessAt(t, clock, true, onRedis(tg.Client, tg.Prefix), func(c *Config) { c.VisibilityTimeout = 100 * visibility })
		// miniredis's clock moves only when told: move it past a's lease
		// now and then (a renewal a sent before the cut may land after a
		// move).
		lastMove := time.Time{}
		eventually(t, func() bool {
			if tg.Mini != nil && time.Since(lastMove) > 500*time.Millisecond {
				tg.Advance(2 * visibility)
				lastMove = time.Now()
			}
			return len(b.sent()) > 0
		}, "never reclaimed")
		v := b.waitStatus(id, "email", Sent)
		sent := b.sent()
		require.Len(t, sent, 1)
		assert.Equal(t, 2, sent[0].Attempt, "reclaimed: the crashed attempt counted")
		assert.Equal(t, 2, v.Channels["email"].Attempts)
		once.Do(func() { close(release) })
	})
}

// slowPrefs holds the first load of a user's preferences after it has
// read the store, until released: a load of the old value in flight.
type slowPrefs struct {
	prefStore
	once    sync.Once
	read    chan struct{}
	release chan struct{}
}

func (p *slowPrefs) get(ctx context.Context, user string) (Preferences, error) {
	v, err := p.prefStore.get(ctx, user)
	p.once.Do(func() {
		close(p.read)
		<-p.release
	})
	return v, err
}

// A load of the old preferences on instance B, racing an update on
// instance A, never leaves the old value in the shared cache: A's
// invalidation fences B's load off.
func TestStaleLoadOnAnotherInstanceIsFencedOff(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clock := clockAtStart()
		a := newHarnessAt(t, clock, true, onRedis(tg.Client, tg.Prefix))
		b := newHarnessAt(t, clock, true, onRedis(tg.Client, tg.Prefix))
		slow := &slowPrefs{prefStore: b.svc.prefs, read: make(chan struct{}), release: make(chan struct{})}
		b.svc.prefs = slow
		rc, err := b.svc.redisPrefCache()
		require.NoError(t, err)
		require.NoError(t, b.svc.buildPrefView(rc))

		old := make(chan Preferences, 1)
		go func() {
			var p Preferences
			b.do("GET", "/api/users/ann/preferences", nil, &p)
			old <- p
		}()
		<-slow.read // B has read the old preferences (none) and not stored them yet
		require.Equal(t, http.StatusOK, a.do("PUT", "/api/users/ann/preferences", map[string]any{"opt_out": []string{"sms"}}, nil))
		close(slow.release)
		assert.Empty(t, (<-old).OptOut, "B's read in flight answers what it read")

		assert.Equal(t, uint64(1), b.svc.prefView.Stats().Fenced, "B's load was not fenced off")
		for _, h := range []*harness{a, b} {
			var p Preferences
			require.Equal(t, http.StatusOK, h.do("GET", "/api/users/ann/preferences", nil, &p))
			assert.Equal(t, []string{"sms"}, p.OptOut, "the old preferences were left in the cache")
		}
		// And a delivery on B honours the new opt-out.
		id := b.post(map[string]any{"user_id": "ann", "channels": []string{"sms"}, "body": "b"})
		b.waitStatus(id, "sms", Skipped)
	})
}
