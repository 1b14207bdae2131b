//! Which user owns which number: `sms.numbers` from the config, plus numbers admins
//! assigned at run time (stored by the bridge).

use crate::number::E164;
use std::collections::BTreeMap;
use std::sync::RwLock;
use switchboard_bridge::BridgeError;

/// Where an assignment comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `sms.numbers` in the configuration file.
    Config,
    /// An admin command (stored).
    Admin,
}

/// Numbers and their owners (bare JIDs as the core normalised them).
#[derive(Default)]
pub struct Numbers {
    by_number: RwLock<BTreeMap<E164, (String, Origin)>>,
}

impl Numbers {
    /// Assigns a number. A number from the config is not reassigned at run time.
    pub fn assign(&self, number: E164, owner: &str, origin: Origin) -> Result<(), BridgeError> {
        let mut map = self.by_number.write().expect("numbers lock poisoned");
        if let Some((current, Origin::Config)) = map.get(&number) {
            if origin == Origin::Admin && current != owner {
                return Err(BridgeError::Conflict(format!(
                    "{number} is assigned to {current} in the configuration file (sms.numbers)"
                )));
            }
        }
        map.insert(number, (owner.to_string(), origin));
        Ok(())
    }

    /// Removes an admin assignment; returns its owner.
    pub fn unassign(&self, number: &E164) -> Result<String, BridgeError> {
        let mut map = self.by_number.write().expect("numbers lock poisoned");
        match map.get(number) {
            None => Err(BridgeError::NotFound(format!("{number} is not assigned"))),
            Some((_, Origin::Config)) => Err(BridgeError::NotAllowed(format!(
                "{number} is assigned in the configuration file; remove it from sms.numbers"
            ))),
            Some(_) => Ok(map.remove(number).map(|(o, _)| o).unwrap_or_default()),
        }
    }

    /// Who owns a number.
    pub fn owner_of(&self, number: &E164) -> Option<String> {
        let map = self.by_number.read().expect("numbers lock poisoned");
        map.get(number).map(|(o, _)| o.clone())
    }

    /// The number a user sends from: the lowest of theirs.
    pub fn number_of(&self, owner: &str) -> Option<E164> {
        let map = self.by_number.read().expect("numbers lock poisoned");
        map.iter()
            .find(|(_, (o, _))| o == owner)
            .map(|(n, _)| n.clone())
    }

    /// How many numbers are assigned.
    pub fn len(&self) -> usize {
        self.by_number.read().expect("numbers lock poisoned").len()
    }

    /// True when no number is assigned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::normalize;

    fn n(s: &str) -> E164 {
        normalize(s, None).unwrap()
    }

    #[test]
    fn config_numbers_stay_admin_numbers_come_and_go() {
        let numbers = Numbers::default();
        numbers
            .assign(n("+15550001111"), "alice@x", Origin::Config)
            .unwrap();
        assert!(matches!(
            numbers.assign(n("+15550001111"), "bob@x", Origin::Admin),
            Err(BridgeError::Conflict(_))
        ));
        numbers
            .assign(n("+15550002222"), "bob@x", Origin::Admin)
            .unwrap();
        assert_eq!(
            numbers.owner_of(&n("+15550002222")).as_deref(),
            Some("bob@x")
        );
        assert_eq!(numbers.number_of("alice@x"), Some(n("+15550001111")));
        assert!(matches!(
            numbers.unassign(&n("+15550001111")),
            Err(BridgeError::NotAllowed(_))
        ));
        assert_eq!(numbers.unassign(&n("+15550002222")).unwrap(), "bob@x");
        assert_eq!(numbers.number_of("bob@x"), None);
        assert!(matches!(
            numbers.unassign(&n("+15550002222")),
            Err(BridgeError::NotFound(_))
        ));
    }
}
