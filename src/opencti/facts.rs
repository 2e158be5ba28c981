//! What the sink must know of a bundle before it pushes: the markings its objects carry (which
//! the token's user may not be allowed to use) and what needs a settings capability. Gathered
//! object by object by whichever stage reads them, while each object is in cache.

use super::access::{Carried, MarkingScan};
use super::capabilities::{BundleNeeds, NeedsScan};
use crate::bundle::Prepared;

#[derive(Default)]
pub(crate) struct FactScan {
    markings: MarkingScan,
    needs: NeedsScan,
}

impl FactScan {
    pub(crate) fn observe(&mut self, kind: &str, id: &str, raw: &str) {
        self.markings.observe(kind, id, raw);
        self.needs.observe(kind, raw);
    }

    pub(crate) fn finish(self) -> Facts {
        Facts {
            carried: self.markings.finish(),
            needs: self.needs.needs,
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
