//! The Sales API's catalogue against a real database: pages followed by their `Link`
//! headers are the whole catalogue in sku order with no gap and no duplicate, the last
//! page has no next link, a bad limit or cursor is a 422 problem, and the legacy call
//! without `limit` and `after` still answers the whole array.

use serde_json::Value;
use stockflow_e2e::TestEnv;

/// A sales with 25 products of its own beside the seeded ones.
async fn shop() -> TestEnv {
    let env = TestEnv::running_sales().await;
    for i in (0..25).rev() {
        env.add_product(&format!("PAGE-{i:02}"), 1, 10).await;
    }
    env
}

/// The skus of a JSON array of products.
fn skus(products: &Value) -> Vec<String> {
    products
        .as_array()
        .expect("an array of products")
        .iter()
        .map(|p| p["sku"].as_str().unwrap().to_string())
        .collect()
}

/// The target of a `Link: <…>; rel="next"` header.
fn next_link(response: &reqwest::Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().unwrap();
    assert!(link.ends_with(r#">; rel="next""#), "{link}");
    Some(link.trim_start_matches('<').split('>').next().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_followed_by_their_links_are_the_whole_catalogue() {
    let env = shop().await;
    let whole = skus(&env.get_json(&env.sales("/products")).await);
    assert!(whole.len() > 25 && whole.is_sorted(), "{whole:?}");

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = Some("/products?limit=4".to_string());
    while let Some(current) = path {
        let response = env.http.get(env.sales(&current)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{current}");
        path = next_link(&response);
        let page = skus(&response.json().await.unwrap());
        assert!(page.len() <= 4 && !page.is_empty(), "{current}: {page:?}");
        if let Some(next) = &path {
            assert!(next.starts_with("/products?limit=4&after="), "{next}");
        }
        seen.extend(page);
        pages += 1;
    }
    assert_eq!(seen, whole, "no gap, no duplicate, in sku order");
    assert_eq!(pages, whole.len().div_ceil(4));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_page_has_no_next_link_even_when_full() {
    let env = shop().await;
    let response = env
        .http
        .get(env.sales("/products?after=PAGE-21&limit=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(next_link(&response), None, "PAGE-22..24 are the last three");
    assert_eq!(skus(&response.json().await.unwrap()), ["PAGE-22", "PAGE-23", "PAGE-24"]);

    let default_limit = env.http.get(env.sales("/products?after=PAGE-00")).send().await.unwrap();
    assert_eq!(next_link(&default_limit), None, "a page of 100 holds the rest");
    assert_eq!(skus(&default_limit.json().await.unwrap()).len(), 24);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_limit_or_cursor_is_a_422_problem() {
    let env = shop().await;
    for query in [
        "limit=0",
        "limit=-1",
        "limit=1001",
        "limit=abc",
        "limit=",
        "limit=2&limit=3",
        "after=",
        "after=NO%20SPACES",
        &format!("after={}", "A".repeat(33)),
    ] {
        let response = env
            .http
            .get(env.sales(&format!("/products?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/invalid-field", "{query}");
        assert!(problem["detail"].as_str().unwrap().len() > 20, "{query}: {problem}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_call_still_answers_the_whole_array_without_a_link() {
    let env = shop().await;
    let response = env.http.get(env.sales("/products")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("link").is_none());
    let products: Value = response.json().await.unwrap();
    let all = skus(&products);
    assert!(all.contains(&"CP-502101".to_string()) && all.contains(&"PAGE-24".to_string()));
    assert!(all.len() > 25, "every product, not a page");
    assert_eq!(
        products[0].as_object().unwrap().len(),
        6,
        "the same fields as ever: {}",
        products[0]
    );
    let other = env.http.get(env.sales("/products?foo=bar")).send().await.unwrap();
    assert_eq!(
        skus(&other.json().await.unwrap()),
        all,
        "other parameters change nothing"
    );
    env.stop().await;
}
