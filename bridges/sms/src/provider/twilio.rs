//! Twilio's Messages API (and compatible ones): a form POST with basic auth.

use super::{exchange, short, Accepted, OutboundSms, Provider};
use crate::error::SmsError;
use async_trait::async_trait;
use serde::Deserialize;

/// A Twilio-compatible provider.
pub struct Twilio {
    http: reqwest::Client,
    messages_url: String,
    account_sid: String,
    auth_token: String,
}

impl Twilio {
    /// A client for the account at `api_base`.
    pub fn new(http: reqwest::Client, api_base: &str, account_sid: &str, auth_token: &str) -> Self {
        Self {
            http,
            messages_url: format!(
                "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
                api_base.trim_end_matches('/')
            ),
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
        }
    }
}

/// The status callback URL of a message.
pub fn status_url(public_url: &str, reference: &str) -> String {
    format!(
        "{}/sms/twilio/status?ref={reference}",
        public_url.trim_end_matches('/')
    )
}

/// The form fields of a send request.
pub fn form(sms: &OutboundSms) -> Vec<(&'static str, String)> {
    let mut form = vec![("To", sms.to.to_string()), ("From", sms.from.to_string())];
    if !sms.text.is_empty() {
        form.push(("Body", sms.text.clone()));
    }
    for url in &sms.media {
        form.push(("MediaUrl", url.clone()));
    }
    if let Some(public) = &sms.public_url {
        form.push(("StatusCallback", status_url(public, &sms.reference)));
    }
    form
}

#[derive(Deserialize)]
struct Answer {
    sid: Option<String>,
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// The reason in an error answer: `<code>: <message>` when Twilio gives them.
pub fn reason(body: &str) -> String {
    match serde_json::from_str::<Answer>(body) {
        Ok(Answer {
            message: Some(message),
            code,
            ..
        }) => match code {
            Some(code) => format!("{code}: {message}"),
            None => message,
        },
        _ => short(body),
    }
}

#[async_trait]
impl Provider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn supports_media(&self) -> bool {
        true
    }

    async fn send(&self, sms: &OutboundSms) -> Result<Accepted, SmsError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form(sms))
            .finish();
        let request = self
            .http
            .post(&self.messages_url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let (status, text) = exchange("twilio", request).await?;
        if status.is_success() {
            // A 2xx means Twilio took it; an unreadable body must not make us send again.
            let id = serde_json::from_str::<Answer>(&text)
                .ok()
                .and_then(|a| a.sid);
            return Ok(Accepted { id });
        }
        Err(SmsError::Status {
            provider: "twilio",
            status: status.as_u16(),
            reason: reason(&text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::normalize;

    #[test]
    fn form_has_numbers_text_media_and_callback() {
        let sms = OutboundSms {
            from: normalize("+15550001111", None).unwrap(),
            to: normalize("+15551234567", None).unwrap(),
            text: "hi".into(),
            media: vec!["https://x/a.jpg".into(), "https://x/b.jpg".into()],
            reference: "t1".into(),
            public_url: Some("https://gw.example/".into()),
        };
        assert_eq!(
            form(&sms),
            vec![
                ("To", "+15551234567".to_string()),
                ("From", "+15550001111".to_string()),
                ("Body", "hi".to_string()),
                ("MediaUrl", "https://x/a.jpg".to_string()),
                ("MediaUrl", "https://x/b.jpg".to_string()),
                (
                    "StatusCallback",
                    "https://gw.example/sms/twilio/status?ref=t1".to_string()
                ),
            ]
        );
    }

    #[test]
    fn error_reasons_carry_twilio_codes() {
        assert_eq!(
            reason(r#"{"code": 21211, "message": "The 'To' number is not valid.", "status": 400}"#),
            "21211: The 'To' number is not valid."
        );
        assert_eq!(reason("Service Unavailable"), "Service Unavailable");
    }
}
