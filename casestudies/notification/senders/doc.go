// Package senders delivers one notification to one channel: the Sender
// interface the notification service dispatches through, and three
// implementations — a webhook (HTTP POST signed with HMAC-SHA256), SMTP
// (net/smtp) and a console sender with failure injection for demos and tests.
//
// Every Sender classifies its failures: an error wrapped by Permanent (an
// invalid address, a 4xx answer, a rejected recipient) will fail again
// however often it is retried, so the service fails the delivery at once;
// any other error is transient (a timeout, a refused connection, a 5xx
// answer) and is retried with backoff.
//
//	wh, err := senders.NewWebhook(senders.WebhookConfig{URL: url, Secret: secret})
//	if err != nil { … }
//	err = wh.Send(ctx, senders.Message{ID: "n1", Channel: "push", To: "u1", Body: "hi"})
//	if senders.IsPermanent(err) { … give up … } else if err != nil { … retry later … }
package senders
