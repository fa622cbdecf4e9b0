// Package media is the content repository: uploads (direct, and
// create-then-upload), downloads, thumbnails, the media configuration and
// URL previews, on the authenticated /_matrix/client/v1/media endpoints
// and the deprecated /_matrix/media/v3 ones.
//
// Files are stored once per content on the local filesystem, named by
// their SHA-256; metadata is kept in storage. Media of other servers is
// reached through a RemoteFetcher, which the federation code provides;
// without one, such requests answer 404.
//
// It must never serve user content in a way a browser would run it: every
// response carries a sandboxing Content-Security-Policy and nosniff, and
// only an allow-list of passive types is served inline. It must not decode
// an image whose header promises more pixels than the thumbnailer accepts,
// and URL previews must never connect to an internal address.
package media
