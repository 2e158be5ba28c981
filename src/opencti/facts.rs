//! What the sink must know of a bundle before it pushes: the markings its objects carry (which
//! the token's user may not be allowed to use) and what needs a settings capability. Gathered
//! object by object by whichever stage reads them, while each object is in cache.

use super::access::{Carried, MarkingScan};
use super::capabilities::{self, BundleNeeds, NeedsScan};
use super::connector::Platform;
use crate::bundle::Prepared;

pub(crate) struct FactScan {
    markings: MarkingScan,
    /// `None` where no capability could be missing: nothing to look for.
    needs: Option<NeedsScan>,
}

impl Default for FactScan {
    fn default() -> Self {
        FactScan::for_platform(None)
    }
}

impl FactScan {
    /// What to look for on `platform`: what needs a settings capability only when the token's
    /// user lacks one (the "Connector" role holds all three); with no platform, everything.
    pub(crate) fn for_platform(platform: Option<&Platform>) -> Self {
        let needs = platform.is_none_or(capabilities::lacks_a_setting);
        FactScan {
            markings: MarkingScan::default(),
            needs: needs.then(NeedsScan::default),
        }
    }

    pub(crate) fn observe(&mut self, kind: &str, id: &str, raw: &str) {
        self.markings.observe(kind, id, raw);
        if let Some(needs) = &mut self.needs {
            needs.observe(kind, raw);
        }
    }

    pub(crate) fn finish(self) -> Facts {
        Facts {
            carried: self.markings.finish(),
            needs: self.needs.map(|n| n.needs).unwrap_or_default(),
        }
    }
}

pub(crate) struct Facts {
    pub(crate) carried: Vec<Carried>,
    pub(crate) needs: BundleNeeds,
}

impl Facts {
    /// The facts of a bundle staged in memory.
    pub(crate) fn of(prepared: &Prepared) -> Facts {
        let mut scan = FactScan::default();
        for o in prepared.objects() {
            scan.observe(o.kind, o.id, o.raw);
        }
        scan.finish()
    }
}
