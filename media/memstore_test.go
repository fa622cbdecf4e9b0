package media

import (
	"context"
	"fmt"
	"sync"

	"github.com/warbler-im/warbler/storage"
)

// memStore is an in-memory storage.MediaStore for the handler tests; the
// real stores pass storagetest's media suite.
type memStore struct {
	mu     sync.Mutex
	media  map[string]storage.Media
	thumbs map[string]storage.MediaThumbnail
	puts   int // thumbnails stored, to see the cache at work
}

func newMemStore() *memStore {
	return &memStore{media: map[string]storage.Media{}, thumbs: map[string]storage.MediaThumbnail{}}
}

func thumbKey(server, id string, w, h int, method string) string {
	return fmt.Sprintf("%s|%d|%d|%s", mediaKey(server, id), w, h, method)
}

func (s *memStore) AddMedia(_ context.Context, m storage.Media) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := mediaKey(m.ServerName, m.MediaID)
	if _, ok := s.media[key]; ok {
		return storage.ErrConflict
	}
	s.media[key] = m
	return nil
}

func (s *memStore) ReserveMedia(_ context.Context, m storage.Media, maxPending int, nowTS int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := 0
	for k, other := range s.media {
		if other.Uploader == m.Uploader && other.Pending() {
			if other.UnusedExpiresTS <= nowTS {
				delete(s.media, k)
				continue
			}
			pending++
		}
	}
	if pending >= maxPending {
		return storage.ErrPendingLimit
	}
	key := mediaKey(m.ServerName, m.MediaID)
	if _, ok := s.media[key]; ok {
		return storage.ErrConflict
	}
	s.media[key] = m
	return nil
}

func (s *memStore) CompleteMedia(_ context.Context, m storage.Media) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := mediaKey(m.ServerName, m.MediaID)
	old, ok := s.media[key]
	switch {
	case !ok:
		return storage.ErrNotFound
	case !old.Pending():
		return storage.ErrConflict
	}
	old.ContentType, old.Filename, old.Size, old.SHA256, old.UploadedTS = m.ContentType, m.Filename, m.Size, m.SHA256, m.UploadedTS
	old.UnusedExpiresTS = 0
	s.media[key] = old
	return nil
}

func (s *memStore) GetMedia(_ context.Context, server, id string) (storage.Media, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.media[mediaKey(server, id)]
	if !ok {
		return storage.Media{}, storage.ErrNotFound
	}
	return m, nil
}

func (s *memStore) SetMediaQuarantined(_ context.Context, server, id string, q bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := mediaKey(server, id)
	m, ok := s.media[key]
	if !ok {
		return storage.ErrNotFound
	}
	m.Quarantined = q
	s.media[key] = m
	return nil
}

func (s *memStore) PutMediaThumbnail(_ context.Context, t storage.MediaThumbnail) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.media[mediaKey(t.ServerName, t.MediaID)]; !ok {
		return storage.ErrNotFound
	}
	s.thumbs[thumbKey(t.ServerName, t.MediaID, t.Width, t.Height, t.Method)] = t
	s.puts++
	return nil
}

func (s *memStore) GetMediaThumbnail(_ context.Context, server, id string, w, h int, method string) (storage.MediaThumbnail, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.thumbs[thumbKey(server, id, w, h, method)]
	if !ok {
		return storage.MediaThumbnail{}, storage.ErrNotFound
	}
	return t, nil
}

func (s *memStore) thumbnailPuts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}
