//! The `verify` row of the benchmark: a complete OpenCTI, everything DISINFOX serves looked up,
//! next to `sync`'s rows (same answer, same RSS budget). The look-ups it made are counted from
//! the OpenCTI stand-in's request log.

use super::{Bench, Env, OpenctiStandin, Usage};

impl Bench {
    pub(super) fn verify_row(
        &mut self,
        n: usize,
        objects: usize,
        answer_bytes: Option<u64>,
        env: &Env,
        oc: &OpenctiStandin,
        budget: &dyn Fn(&Usage) -> (String, String),
    ) {
        oc.clear_requests();
        let args: Vec<String> = ["--log-level", "warn", "--retries", "0", "verify"]
            .map(String::from)
            .to_vec();
        let (u, out) = self.run(
            &format!("{n}: verify (complete)"),
            &self.bin.clone(),
            &args,
            env,
        );
        let lookups = oc
            .requests()
            .iter()
            .filter(|r| {
                r.root_fields.iter().any(|f| {
                    matches!(
                        f.as_str(),
                        "stixCoreObjects" | "stixCoreRelationships" | "stixSightingRelationships"
                    )
                })
            })
            .count();
        if u.ok() {
            self.notes.push(format!(
                "{n} incidents, verify (complete): {lookups} look-up requests (500 ids each) for {objects} objects; {} missing listed",
                out.lines().count()
            ));
        }
        let (budget, verdict) = budget(&u);
        self.push_row(
            &format!("verify, complete ({lookups} look-ups)"),
            n,
            Some(objects),
            answer_bytes,
            &u,
            budget,
            verdict,
        );
    }
}
