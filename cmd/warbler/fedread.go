package main

import (
	"context"
	"errors"
	"net/url"

	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/config"
	"github.com/warbler-im/warbler/federation"
	"github.com/warbler-im/warbler/media"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// wireFederationReads connects the federation reading endpoints to the
// roomserver, storage and content repository, behind the data policy
// (AllowAll until residency policies exist), and lets the content
// repository fetch other servers' media and /messages backfill history
// over federation.
func wireFederationReads(cfg config.Config, fed *federation.Federation, db storage.Database, rooms *roomserver.RoomServer, api *clientapi.API, mediaAPI *media.API, decider policy.Decider) {
	fed.Routes.Policy = decider
	fed.Routes.Reads = &federation.ReadSources{Rooms: rooms, Events: db, Profiles: db, Media: localMedia{mediaAPI}}
	mediaAPI.Remote = remoteMedia{&federation.MediaFetcher{Client: fed.Client}}
	api.Backfill = &federation.Backfiller{ServerName: cfg.ServerName, Client: fed.Client, Keys: fed.Keyring, Rooms: rooms, Timeline: db}
}

// localMedia serves the content repository's media to other servers.
type localMedia struct{ api *media.API }

func (m localMedia) Download(ctx context.Context, mediaID string, q url.Values) (federation.MediaContent, error) {
	c, err := m.api.OpenForFederation(ctx, mediaID, q)
	return federation.MediaContent(c), err
}

func (m localMedia) Thumbnail(ctx context.Context, mediaID string, q url.Values) (federation.MediaContent, error) {
	c, err := m.api.OpenThumbnailForFederation(ctx, mediaID, q)
	return federation.MediaContent(c), err
}

// remoteMedia fetches other servers' media for the content repository.
type remoteMedia struct{ fetcher *federation.MediaFetcher }

func (r remoteMedia) FetchMedia(ctx context.Context, serverName, mediaID string) (media.RemoteMedia, error) {
	got, err := r.fetcher.FetchMedia(ctx, serverName, mediaID)
	if errors.Is(err, federation.ErrMediaNotFound) {
		return media.RemoteMedia{}, media.ErrRemoteNotFound
	}
	if err != nil {
		return media.RemoteMedia{}, err
	}
	return media.RemoteMedia(got), nil
}
