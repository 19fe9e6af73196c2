//! The bindings a hook sees (variables, secrets, KV namespaces), as the engine keys a
//! script's instances by them.

/// The bindings a hook sees: `env` in module form, globals in service-worker form.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub struct Env {
    /// Name and value of each variable or secret.
    pub vars: Vec<(String, String)>,
    /// KV bindings: the name the script sees and the namespace it stands for.
    pub kv: Vec<(String, String)>,
}

impl Env {
    /// What the engine keys a script's warm instance by, with its path (per request:
    /// foldhash, as its maps; one process's keys only).
    pub(crate) fn fingerprint(&self) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::default().hash_one(self)
    }
}
