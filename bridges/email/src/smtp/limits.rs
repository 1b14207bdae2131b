//! The listener's limits that outlive one session: connections per client IP address, and
//! the counters of limits hit (for `/metrics`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How often the listener's limits were hit.
#[derive(Debug, Default)]
pub struct SmtpStats {
    /// Connections refused: the listener was full.
    pub refused_busy: AtomicU64,
    /// Connections refused: their IP address held its share already.
    pub refused_per_ip: AtomicU64,
    /// Sessions closed after too many errors or refused recipients.
    pub closed_errors: AtomicU64,
    /// Sessions closed after too many commands without mail.
    pub closed_idle: AtomicU64,
    /// Sessions closed at the end of their lifetime.
    pub closed_lifetime: AtomicU64,
    /// Recipients refused (`550`).
    pub rcpt_refused: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Connections held per client IP address.
#[derive(Default)]
pub(super) struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// One connection's share of its IP address; given back when dropped.
pub(super) struct IpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    pub(super) fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(IpSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut held = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_per_address_are_counted_and_given_back() {
        let table = Arc::new(PerIp::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = table.take(a, 2).unwrap();
        let second = table.take(a, 2).unwrap();
        assert!(table.take(a, 2).is_none(), "a third from the same address");
        assert!(table.take(b, 2).is_some(), "another address is served");
        drop(first);
        let third = table.take(a, 2).expect("a slot came back");
        drop((second, third));
        assert!(
            table.0.lock().unwrap().is_empty(),
            "nothing kept for gone clients"
        );
    }
}
