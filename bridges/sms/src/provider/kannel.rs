//! Kannel's smsbox `sendsms` interface: text only, with delivery reports to the gateway.

use super::{exchange, short, Accepted, OutboundSms, Provider};
use crate::encoding;
use crate::error::SmsError;
use async_trait::async_trait;

/// Delivery reports asked of Kannel: delivered to the phone (1), not delivered to the
/// phone (2), not delivered to the SMSC (16).
pub const DLR_MASK: u8 = 1 | 2 | 16;

/// A Kannel smsbox.
pub struct Kannel {
    http: reqwest::Client,
    sendsms_url: String,
    username: String,
    password: String,
    webhook_secret: String,
    smsc: Option<String>,
    delivery_reports: bool,
}

impl Kannel {
    /// A client of the smsbox at `sendsms_url`.
    pub fn new(
        http: reqwest::Client,
        sendsms_url: &str,
        username: &str,
        password: &str,
        webhook_secret: &str,
        smsc: Option<String>,
        delivery_reports: bool,
    ) -> Self {
        Self {
            http,
            sendsms_url: sendsms_url.into(),
            username: username.into(),
            password: password.into(),
            webhook_secret: webhook_secret.into(),
            smsc,
            delivery_reports,
        }
    }

    /// The query of a sendsms request (credentials included).
    pub fn query(&self, sms: &OutboundSms) -> String {
        let coding = encoding::segments(&sms.text).coding;
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("username", &self.username)
            .append_pair("password", &self.password)
            .append_pair("from", sms.from.as_str())
            .append_pair("to", sms.to.as_str())
            .append_pair("text", &sms.text)
            // The text is always sent as UTF-8; `coding` says how the SMSC should send it.
            .append_pair("charset", "UTF-8")
            .append_pair("coding", &coding.kannel_coding().to_string());
        if let Some(smsc) = &self.smsc {
            q.append_pair("smsc", smsc);
        }
        if let (Some(public), true) = (&sms.public_url, self.delivery_reports) {
            q.append_pair("dlr-mask", &DLR_MASK.to_string())
                .append_pair(
                    "dlr-url",
                    &dlr_url(public, &self.webhook_secret, &sms.reference),
                );
        }
        q.finish()
    }
}

/// The URL Kannel calls with a delivery report (`%d` is its report type).
pub fn dlr_url(public_url: &str, secret: &str, reference: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("secret", secret)
        .append_pair("ref", reference);
    format!(
        "{}/sms/kannel/dlr?{}&type=%d",
        public_url.trim_end_matches('/'),
        q.finish()
    )
}

#[async_trait]
impl Provider for Kannel {
    fn name(&self) -> &'static str {
        "kannel"
    }

    fn supports_media(&self) -> bool {
        false
    }

    async fn send(&self, sms: &OutboundSms) -> Result<Accepted, SmsError> {
        let url = format!("{}?{}", self.sendsms_url, self.query(sms));
        let (status, text) = exchange("kannel", self.http.get(url)).await?;
        // 202 "0: Accepted for delivery" or "3: Queued for later delivery".
        if status.is_success() {
            return Ok(Accepted { id: None });
        }
        Err(SmsError::Status {
            provider: "kannel",
            status: status.as_u16(),
            reason: short(&text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::normalize;

    fn kannel() -> Kannel {
        Kannel::new(
            reqwest::Client::new(),
            "http://127.0.0.1:13013/cgi-bin/sendsms",
            "gw",
            "pw",
            "s3cret-hook",
            None,
            true,
        )
    }

    fn sms(text: &str) -> OutboundSms {
        OutboundSms {
            from: normalize("+15550001111", None).unwrap(),
            to: normalize("+4917000000", None).unwrap(),
            text: text.into(),
            media: vec![],
            reference: "t42".into(),
            public_url: Some("http://127.0.0.1:8080".into()),
        }
    }

    fn params(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn gsm_text_goes_as_coding_0_with_a_dlr_url_carrying_the_reference() {
        let p = params(&kannel().query(&sms("Hello @ £5")));
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("text"), Some("Hello @ £5"));
        assert_eq!(get("charset"), Some("UTF-8"));
        assert_eq!(get("coding"), Some("0"));
        assert_eq!(get("from"), Some("+15550001111"));
        assert_eq!(get("dlr-mask"), Some("19"));
        assert_eq!(
            get("dlr-url"),
            Some("http://127.0.0.1:8080/sms/kannel/dlr?secret=s3cret-hook&ref=t42&type=%d")
        );
    }

    #[test]
    fn non_gsm_text_goes_as_ucs2_still_in_utf8() {
        let p = params(&kannel().query(&sms("Grüße 👋")));
        assert!(p.contains(&("coding".into(), "2".into())));
        assert!(p.contains(&("charset".into(), "UTF-8".into())));
        assert!(p.contains(&("text".into(), "Grüße 👋".into())));
    }
}
