//! The response deadline (Azure drops a response that has not started within 230 s), as a tower
//! layer that arms its timer only for requests that actually wait.
//!
//! `tower_http::timeout::TimeoutLayer` registers a tokio timer for every request before polling
//! it. Registering a timer earlier than the one the runtime's driver is parked on wakes the
//! driver (an `eventfd` write): under `bench/run` that was one extra syscall and a cross-thread
//! wake-up per request, a third of the handler's hello throughput on 2 cores. Most requests
//! (hello, the readiness probe, cached status) finish on their first poll, so this layer polls
//! the request first and creates the timer only when it returns `Pending`, with the deadline
//! counted from when the request arrived.

use std::{
    future::Future,
    pin::Pin,
    task::{ready, Context, Poll},
    time::Duration,
};

use axum::{http::StatusCode, response::Response};
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

/// Answers an empty `status` (the JSON error layer gives it a body) when the inner service has
/// not produced a response within `deadline` of the request's arrival.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    deadline: Duration,
    status: StatusCode,
}

impl DeadlineLayer {
    pub fn new(deadline: Duration, status: StatusCode) -> Self {
        Self { deadline, status }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            deadline: self.deadline,
            status: self.status,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Deadline<S> {
    inner: S,
    deadline: Duration,
    status: StatusCode,
}

impl<S, R, B> Service<R> for Deadline<S>
where
    S: Service<R, Response = Response<B>>,
    B: Default,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        DeadlineFuture {
            inner: self.inner.call(request),
            deadline: Instant::now() + self.deadline,
            sleep: None,
            status: self.status,
        }
    }
}

pin_project_lite::pin_project! {
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: F,
        deadline: Instant,
        // Boxed so the future stays small; allocated only for requests that wait.
        sleep: Option<Pin<Box<Sleep>>>,
        status: StatusCode,
    }
}

impl<F, B, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result);
        }
        let deadline = *this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(sleep.as_mut().poll(cx));
        let mut response = Response::new(B::default());
        *response.status_mut() = *this.status;
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::body::Body;
    use tower::{service_fn, ServiceExt};

    use super::*;

    async fn answer_after(delay: Duration) -> Result<Response<Body>, Infallible> {
        tokio::time::sleep(delay).await;
        Ok(Response::new(Body::from("done")))
    }

    #[tokio::test]
    async fn a_request_that_finishes_in_time_gets_its_own_response() {
        let service = DeadlineLayer::new(Duration::from_millis(500), StatusCode::GATEWAY_TIMEOUT)
            .layer(service_fn(|delay: Duration| answer_after(delay)));
        let immediate = service.oneshot(Duration::ZERO).await.unwrap();
        assert_eq!(immediate.status(), StatusCode::OK);
        let waited = service.oneshot(Duration::from_millis(20)).await.unwrap();
        assert_eq!(waited.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_request_past_the_deadline_gets_the_status() {
        let service = DeadlineLayer::new(Duration::from_millis(50), StatusCode::GATEWAY_TIMEOUT)
            .layer(service_fn(|delay: Duration| answer_after(delay)));
        let started = std::time::Instant::now();
        let late = service.oneshot(Duration::from_secs(30)).await.unwrap();
        assert_eq!(late.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
