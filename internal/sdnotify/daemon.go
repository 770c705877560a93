package sdnotify

import (
	"context"
	"log/slog"
	"sync"
)

// Daemon is a long-running command's conversation with systemd: the
// watchdog runs from Start, Ready is sent once, and STOPPING=1 as soon as
// ctx ends (the SIGTERM context: before providers are deregistered), or at
// the latest at Close.
type Daemon struct {
	n         *Notifier
	log       *slog.Logger
	ready     sync.Once
	stopping  sync.Once
	cancel    context.CancelFunc
	unhook    func() bool
	watchdogs sync.WaitGroup
}

// Start begins the conversation for the process's $NOTIFY_SOCKET.
func Start(ctx context.Context, log *slog.Logger) *Daemon {
	d := &Daemon{n: FromEnv(), log: log}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	d.unhook = context.AfterFunc(ctx, d.Stopping)
	if !d.n.Enabled() {
		return d
	}
	interval, err := WatchdogInterval()
	if err != nil {
		log.Warn("systemd watchdog off", "err", err)
	}
	if interval > 0 {
		d.watchdogs.Add(1)
		go func() {
			defer d.watchdogs.Done()
			d.n.Watchdog(wctx, interval, func(err error) { log.Warn("systemd watchdog", "err", err) })
		}()
	}
	return d
}

// Ready sends READY=1 (with status for systemctl status), once.
func (d *Daemon) Ready(status string) {
	d.ready.Do(func() { d.report(d.n.Ready(status)) })
}

// Stopping sends STOPPING=1, once.
func (d *Daemon) Stopping() {
	d.stopping.Do(func() { d.report(d.n.Stopping()) })
}

// Close stops the watchdog, sends STOPPING=1 if it was not sent yet and
// releases the socket.
func (d *Daemon) Close() {
	d.unhook()
	d.cancel()
	d.watchdogs.Wait()
	d.Stopping()
	d.report(d.n.Close())
}

func (d *Daemon) report(err error) {
	if err != nil {
		d.log.Warn("telling systemd", "err", err)
	}
}
