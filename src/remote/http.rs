//! Posting JSON documents to an HTTP endpoint (an OpenLineage collector) on the remote
//! client's runtime, so that tokio lives only in this module tree.

/// Posts each body in order, one request each, as `application/json`; stops at the first
/// failure, saying which one and (the start of) what the server answered. Returns how many
/// were accepted.
pub fn post_each(url: &str, bodies: &[Vec<u8>]) -> Result<usize, String> {
    let runtime =
        super::client::runtime().map_err(|e| format!("cannot start the HTTP client: {e}"))?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
    runtime.block_on(async {
        for (i, body) in bodies.iter().enumerate() {
            let which = format!("event {} of {}", i + 1, bodies.len());
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .map_err(|e| format!("{which}: {e}"))?;
            let status = response.status();
            if !status.is_success() {
                // Only the start of the answer: the server's explanation, however long it is.
                let mut response = response;
                let mut head = Vec::new();
                while head.len() < 500
                    && let Ok(Some(chunk)) = response.chunk().await
                {
                    head.extend_from_slice(&chunk);
                }
                let answer: String = String::from_utf8_lossy(&head).chars().take(500).collect();
                return Err(format!("{which} was answered {status}: {answer}"));
            }
        }
        Ok(bodies.len())
    })
}
