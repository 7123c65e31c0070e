package whatsapp

import (
	"context"

	"go.mau.fi/whatsmeow"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// LID → phone mappings reach whatsmeow's LID store from many places: group
// listings, group and device notifications, message senders, usync. Rather
// than follow each event, the session wraps the device's LID store and
// reports every mapping it did not hold before to Options.LIDsLearned,
// which merges LID-only contacts into their numbers (contact.GroupService.
// LIDsLearned).

// lidWatch is a device's LID store that reports new mappings.
type lidWatch struct {
	wastore.LIDStore
	m         *Manager
	accountID string
}

// wrapStores puts wagraph's stores in front of whatsmeow's on the client's
// device: the identity cache (identities.go) always; the manager's LIDMap
// (when set) and the LID watch (when the manager has a listener). A device
// being paired has no stores until whatsmeow saves it on PairSuccess; it
// is wrapped then, in whatsmeow's handler goroutine, before the client logs
// in, sends or learns mappings.
func (m *Manager) wrapStores(accountID string, cli *whatsmeow.Client) {
	wrap := func() {
		device := cli.Store
		if device == nil {
			return
		}
		if device.Identities != nil {
			if _, wrapped := device.Identities.(*identityCache); !wrapped {
				device.Identities = newIdentityCache(device.Identities)
			}
		}
		if device.LIDs != nil {
			m.wrapLIDs(accountID, device)
		}
	}
	if cli.Store != nil && cli.Store.Identities != nil {
		wrap()
		return
	}
	cli.AddEventHandler(func(evt any) {
		if _, ok := evt.(*events.PairSuccess); ok {
			wrap()
		}
	})
}

// wrapLIDs gives the device the manager's LIDMap (when set) and wraps its
// LID store when the manager has a listener.
func (m *Manager) wrapLIDs(accountID string, device *wastore.Device) {
	if m.opts.LIDMap != nil && device.LIDs != wastore.LIDStore(m.opts.LIDMap) {
		if _, wrapped := device.LIDs.(*lidWatch); !wrapped {
			device.LIDs = m.opts.LIDMap
		}
	}
	if m.opts.LIDsLearned == nil {
		return
	}
	if _, wrapped := device.LIDs.(*lidWatch); !wrapped {
		device.LIDs = &lidWatch{LIDStore: device.LIDs, m: m, accountID: accountID}
	}
}

// PutLIDMapping implements wastore.LIDStore.
func (w *lidWatch) PutLIDMapping(ctx context.Context, lid, pn types.JID) error {
	fresh := w.fresh(ctx, lid, pn)
	if err := w.LIDStore.PutLIDMapping(ctx, lid, pn); err != nil {
		return err
	}
	if len(fresh) > 0 {
		w.report(fresh)
	}
	return nil
}

// PutManyLIDMappings implements wastore.LIDStore. On a LIDMap the batch
// itself says which mappings are new (no lookup per mapping).
func (w *lidWatch) PutManyLIDMappings(ctx context.Context, mappings []wastore.LIDMapping) error {
	if lm, ok := w.LIDStore.(*LIDMap); ok {
		added, err := lm.put(ctx, mappings)
		fresh := make(map[string]string, len(added))
		for _, p := range added {
			fresh[p.lid+"@lid"] = "+" + p.pn
		}
		if len(fresh) > 0 {
			w.report(fresh) // the chunks written before a failure too
		}
		return err
	}
	fresh := map[string]string{}
	for _, mp := range mappings {
		for k, v := range w.fresh(ctx, mp.LID, mp.PN) {
			fresh[k] = v
		}
	}
	if err := w.LIDStore.PutManyLIDMappings(ctx, mappings); err != nil {
		return err
	}
	if len(fresh) > 0 {
		w.report(fresh)
	}
	return nil
}

// fresh returns the pair as LID → E.164 when the store does not hold it
// yet (nothing otherwise).
func (w *lidWatch) fresh(ctx context.Context, lid, pn types.JID) map[string]string {
	l, p := lidOf(lid.ToNonAD()), phoneOf(pn.ToNonAD())
	if l == "" || p == "" {
		return nil
	}
	if known, err := w.LIDStore.GetPNForLID(ctx, lid.ToNonAD()); err == nil && known.User == pn.User {
		return nil
	}
	return map[string]string{l: p}
}

// report hands the new mappings to the listener off whatsmeow's goroutine.
func (w *lidWatch) report(pairs map[string]string) {
	fn, m := w.m.opts.LIDsLearned, w.m
	m.spawn(func() { fn(m.ctx, w.accountID, pairs) })
}
