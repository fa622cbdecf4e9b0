package media

import "sync"

// uploadWaiters lets downloads of pending media sleep until the upload
// arrives, instead of polling the database.
type uploadWaiters struct {
	mu      sync.Mutex
	byMedia map[string]*waitList
}

type waitList struct {
	ch       chan struct{} // closed by wake
	watchers int
}

func newUploadWaiters() *uploadWaiters {
	return &uploadWaiters{byMedia: make(map[string]*waitList)}
}

// watch returns a channel closed when key's content arrives, and a release
// func the watcher must call when it stops waiting, so lists of media
// that never get content do not pile up.
func (u *uploadWaiters) watch(key string) (<-chan struct{}, func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	l, ok := u.byMedia[key]
	if !ok {
		l = &waitList{ch: make(chan struct{})}
		u.byMedia[key] = l
	}
	l.watchers++
	return l.ch, func() { u.release(key, l) }
}

func (u *uploadWaiters) release(key string, l *waitList) {
	u.mu.Lock()
	defer u.mu.Unlock()
	l.watchers--
	if l.watchers == 0 && u.byMedia[key] == l {
		delete(u.byMedia, key)
	}
}

// wake tells every watcher of key that its content arrived.
func (u *uploadWaiters) wake(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if l, ok := u.byMedia[key]; ok {
		close(l.ch)
		delete(u.byMedia, key)
	}
}
