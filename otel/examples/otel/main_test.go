package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// The demo's scripted traffic gives known numbers: 8 orders, 2 denied by the
// per-user limit, 6 sagas of which orders 1 and 3 complete (2: payment
// declined; 4, 5: inventory fails and opens the circuit; 6: rejected).
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run("127.0.0.1:0", true, &out))
	s := out.String()
	for _, want := range []string{
		"patterns.ratelimit.decisions{patterns.name=orders-per-user,patterns.outcome=denied,patterns.ratelimit.algorithm=token-bucket} 2\n",
		"patterns.breaker.state{patterns.breaker.state=open,patterns.name=inventory} 1\n",
		"patterns.breaker.rejections{patterns.name=inventory} 1\n",
		"patterns.pubsub.deliveries{patterns.name=orders,patterns.outcome=success} 6\n",
		// Every order handled: nothing queued or in flight, one consumer.
		"patterns.pubsub.queue.depth{messaging.consumer.group.name=checkout,patterns.name=orders,patterns.pubsub.subscription=orders.*} 0\n",
		"patterns.pubsub.consumer.lag{messaging.consumer.group.name=checkout,patterns.name=orders,patterns.pubsub.subscription=orders.*} 0\n",
		"patterns.pubsub.consumers{messaging.consumer.group.name=checkout,patterns.name=orders,patterns.pubsub.subscription=orders.*} 1\n",
		"patterns.saga.finished{patterns.name=checkout,patterns.saga.status=completed} 2\n",
		"patterns.saga.finished{patterns.name=checkout,patterns.saga.status=compensated} 4\n",
		"patterns.cqrs.projection.position{patterns.name=placed-orders} 2\n",
		"patterns.cache.lookups{patterns.name=prices,patterns.outcome=hit} 3\n",
		`patterns_breaker_state{patterns_breaker_state="open",patterns_name="inventory"} 1`,
		"        saga checkout [internal]",
		"            breaker inventory [internal]",
	} {
		require.Contains(t, s, want)
	}
}
