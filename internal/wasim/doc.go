// Package wasim is a WhatsApp multi-device server simulator with simulated
// phones, for tests and for the phone-less demo (--simulate). It speaks the
// real web protocol to an unmodified go.mau.fi/whatsmeow client, so the code
// under test runs exactly the paths it runs against WhatsApp.
//
// # What is simulated
//
//   - Transport: websocket over TLS on loopback, WhatsApp's frame format and
//     the Noise_XX_25519_AESGCM_SHA256 handshake with a certificate chain
//     (root → intermediate → leaf) like the real server's.
//   - Linking: pair-device QR refs (six per connection, any of them
//     scannable, each single-use), pair-success with a real ADV identity
//     (HMAC under the QR's ADV secret, account signature by the phone's
//     identity key), verification of the client's device signature, the 515
//     stream restart, and the phone side of pairing codes (PairWithCode:
//     PBKDF2-wrapped ephemerals, key bundle, ADV secret derivation).
//   - Login: <success> with the device's LID; unknown or removed devices get
//     a 401 connect failure; devices survive client restarts for the
//     simulator's lifetime (memory only), so a restored client logs in
//     without a QR. A second login of a device replaces the first stream.
//   - After login: prekey count and upload, passive, keep-alive pings and an
//     empty result for any other IQ.
//   - Faults on command: Drop, LogOut, ReplaceStream, TempBan, RejectSends,
//     SetHandshakeDelay, RefuseHandshakes.
//   - Groups (AddGroup) in phone-number or LID addressing with the PN ↔ LID
//     pairs in participant attributes; GetJoinedGroups and GetGroupInfo;
//     announce and community flags, members whose number is hidden until
//     RevealPhone, rate-overlimit on command (RateLimitGroups), and the
//     demo groups of --simulate (AddDemoGroups).
//   - Sending: usync device lists and contact lookups, Signal prekey bundles
//     for simulated phones, message acks, and a record of every message
//     (Sent, SentTo) with the text decrypted by the recipient phone, for
//     direct and group messages.
//
// # What is not
//
// No incoming messages, receipts, presence or history sync towards the
// client; no app state, media, newsletters, profile pictures or business
// data; no group mutations (create, leave, participant changes answer with an
// empty result); no rate limits beyond the faults above; QR refs do not
// expire on the server. State lives in memory; Snapshot and Options.State
// carry it across a restart of the process (wagraph simulator --state).
//
// # Pointing a client at it
//
// whatsmeow trusts one Noise root key per process, the package variable
// WACertPubKey, so set it once (in TestMain for a test binary) and give
// every simulator the same root:
//
//	var root = wasim.NewRootKey()
//
//	func TestMain(m *testing.M) {
//		whatsmeow.WACertPubKey = wasim.PublicKey(root)
//		os.Exit(m.Run())
//	}
//
//	sim, err := wasim.Start(ctx, wasim.Options{RootKey: &root})
//	defer sim.Close()
//	cli := whatsmeow.NewClient(device, log)
//	sim.Configure(cli) // websocket and pre-login HTTP clients
//	qr, _ := cli.GetQRChannel(ctx)
//	_ = cli.ConnectContext(ctx)
//	phone, err := sim.ScanQR(ctx, (<-qr).Code)
//
// A single simulator may instead use its own fresh root and assign
// whatsmeow.WACertPubKey = sim.RootPublicKey().
//
// Under the race detector, end clients by cancelling the context passed to
// ConnectContext or by closing the simulator rather than calling
// Client.Disconnect on a live socket: whatsmeow's FrameSocket reads its
// closed flag and disconnect handler without a lock, and a local Disconnect
// can race its read loop.
package wasim
