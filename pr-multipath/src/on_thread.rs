//! PR IN on the caller's own thread, for synchronous callers that already own a thread
//! and read often (the drop-in libmpathpersist inside an `init_vecs` session): one command
//! on the path the engine would try first, with no runtime and no thread hand-off.

use pr_core::types::PrInAction;

use crate::any_path::AnyPath;
use crate::exec;
use crate::lun::MultipathLun;

impl MultipathLun<AnyPath> {
    /// Sends PERSISTENT RESERVE IN `action` once, on the calling thread, through the path
    /// that [`pr_in_raw`](MultipathLun::pr_in_raw) would try first (the first usable path
    /// in path-group order), and returns that path's name and the response bytes.
    ///
    /// `None` whenever that is not the whole story: no usable path, a path kind that
    /// cannot execute on the caller's thread (block ioctls, custom transports), a
    /// transport error, or any status but GOOD (a unit attention, a conflict, ...). The
    /// caller then takes the full path ([`pr_in_raw`](MultipathLun::pr_in_raw):
    /// retries, failover, path states), which sends the command again: PR IN changes
    /// nothing at the device. Nothing is retried or recorded here.
    pub fn pr_in_on_this_thread(
        &self,
        action: PrInAction,
        alloc_len: u16,
    ) -> Option<(String, Vec<u8>)> {
        let path = self.paths().iter().find(|p| p.is_usable())?;
        let request = exec::encode_in(action, alloc_len.max(8))
            .with_timeout(self.options().retry.command_timeout);
        let response = path.transport().execute_on_this_thread(&request)?.ok()?;
        response.completion.check().ok()?;
        Some((path.name().to_owned(), response.buf))
    }
}
