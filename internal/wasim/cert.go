package wasim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/whatsmeow/proto/waCert"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// tlsServerName is the name the simulator's TLS certificate is issued for and
// the name its HTTP client verifies, whatever host whatsmeow dials.
const tlsServerName = "web.whatsapp.com"

// serverKeys holds every key the simulator presents: the Noise root and chain
// that whatsmeow checks against WACertPubKey, and the TLS certificate under
// the websocket.
type serverKeys struct {
	root      *keys.KeyPair
	static    *keys.KeyPair
	certChain []byte
	tlsCert   tls.Certificate
	tlsRoots  *x509.CertPool
}

// newServerKeys generates a fresh root key, an intermediate signed by it and a
// leaf for the Noise static key, the same shape as the real server's chain, so
// handshake.go's verifyServerCert passes unmodified once WACertPubKey is the
// simulator's root.
func newServerKeys(rootKey *[32]byte) (*serverKeys, error) {
	k := &serverKeys{root: keys.NewKeyPair(), static: keys.NewKeyPair()}
	if rootKey != nil {
		k.root = keys.NewKeyPairFromPrivateKey(*rootKey)
	}
	intermediate := keys.NewKeyPair()
	now := time.Now()
	notBefore := uint64(now.Add(-time.Hour).Unix())
	notAfter := uint64(now.Add(10 * 365 * 24 * time.Hour).Unix())

	interDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(1),
		IssuerSerial: proto.Uint32(0),
		Key:          intermediate.Pub[:],
		NotBefore:    proto.Uint64(notBefore),
		NotAfter:     proto.Uint64(notAfter),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal intermediate cert: %w", err)
	}
	leafDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(2),
		IssuerSerial: proto.Uint32(1),
		Key:          k.static.Pub[:],
		NotBefore:    proto.Uint64(notBefore),
		NotAfter:     proto.Uint64(notAfter),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal leaf cert: %w", err)
	}
	interSig := sign(k.root, interDetails)
	leafSig := sign(intermediate, leafDetails)
	k.certChain, err = proto.Marshal(&waCert.CertChain{
		Intermediate: &waCert.CertChain_NoiseCertificate{Details: interDetails, Signature: interSig[:]},
		Leaf:         &waCert.CertChain_NoiseCertificate{Details: leafDetails, Signature: leafSig[:]},
	})
	if err != nil {
		return nil, fmt.Errorf("marshal cert chain: %w", err)
	}
	if err := k.makeTLS(now); err != nil {
		return nil, err
	}
	return k, nil
}

// makeTLS creates a self-signed certificate for WhatsApp's host names and
// loopback, trusted only by the simulator's own HTTP client.
func (k *serverKeys) makeTLS(now time.Time) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate tls key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: tlsServerName, Organization: []string{"wasim"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{tlsServerName, "*.whatsapp.com", "*.whatsapp.net", "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return fmt.Errorf("create tls certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("parse tls certificate: %w", err)
	}
	k.tlsCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}
	k.tlsRoots = x509.NewCertPool()
	k.tlsRoots.AddCert(leaf)
	return nil
}

// NewRootKey generates a private key for Options.RootKey.
func NewRootKey() [32]byte { return *keys.NewKeyPair().Priv }

// PublicKey returns the public half of a root key, the value whatsmeow's
// WACertPubKey must hold.
func PublicKey(rootKey [32]byte) [32]byte { return *keys.NewKeyPairFromPrivateKey(rootKey).Pub }

// sign makes an XEdDSA signature with a Curve25519 key, the scheme WhatsApp
// uses for certificates and ADV identities alike.
func sign(kp *keys.KeyPair, message []byte) [64]byte {
	return ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*kp.Priv), message)
}

// verify checks an XEdDSA signature made by the Curve25519 public key pub.
func verify(pub []byte, message, signature []byte) bool {
	if len(pub) != 32 || len(signature) != 64 {
		return false
	}
	return ecc.VerifySignature(ecc.NewDjbECPublicKey([32]byte(pub)), message, [64]byte(signature))
}
