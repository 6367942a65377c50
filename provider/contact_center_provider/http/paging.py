"""Paginators behind one interface, and page iterators for both client flavours.

A paginator is pure: :meth:`Paginator.first_request` says how to ask for the first page and
:meth:`Paginator.next_request` derives the next request from the page just received (or says
there is none). :func:`iter_pages` / :func:`aiter_pages` drive it with a client and yield
``(page_json, raw_bytes)`` so callers can land the vendor's bytes unchanged and still read
the parsed page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contact_center_provider.http.errors import VendorResponseError

if TYPE_CHECKING:
    from contact_center_provider.http.client import AsyncHttpClient, HttpClient, Response

__all__ = [
    "CursorPaginator",
    "NextUriPaginator",
    "ODataNextLinkPaginator",
    "PageNumberPaginator",
    "Paginator",
    "RequestSpec",
    "aiter_pages",
    "iter_pages",
]


@dataclass(frozen=True)
class RequestSpec:
    """How to request one page.

    :param params: query parameters the paginator adds (merged over the caller's).
    :param path: ``None`` for the caller's path; otherwise a path or absolute URL given by the
        vendor (a ``next`` link), which already carries the whole query, so the caller's
        params are not re-applied.
    """

    params: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None


def get_field(data: Any, dotted: str) -> Any:
    """Return ``data["a"]["b"]`` for ``"a.b"``; ``None`` when any level is missing."""
    current = data
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


class Paginator:
    """Interface: derive page requests from the previous page."""

    def first_request(self) -> RequestSpec:
        """The request for the first page."""
        return RequestSpec()

    def next_request(self, page_json: Any, items_count: int, previous: RequestSpec) -> RequestSpec | None:
        """The request for the page after ``page_json`` (requested with ``previous``), or ``None``."""
        raise NotImplementedError


class PageNumberPaginator(Paginator):
    """``pageNumber``/``pageSize`` paging (Genesys ``entities`` listings).

    Stops when a page has no items or ``pageNumber >= pageCount`` (when the page says).
    """

    def __init__(
        self,
        page_size: int,
        page_param: str = "pageNumber",
        size_param: str = "pageSize",
        *,
        first_page: int = 1,
        page_count_field: str = "pageCount",
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        self.page_size = page_size
        self.page_param = page_param
        self.size_param = size_param
        self.first_page = first_page
        self.page_count_field = page_count_field

    def first_request(self) -> RequestSpec:
        return RequestSpec(params={self.size_param: self.page_size, self.page_param: self.first_page})

    def next_request(self, page_json: Any, items_count: int, previous: RequestSpec) -> RequestSpec | None:
        if items_count == 0:
            return None
        current = int(previous.params[self.page_param])
        page_count = get_field(page_json, self.page_count_field)
        if page_count is not None and current >= int(page_count):
            return None
        return RequestSpec(params={**previous.params, self.page_param: current + 1})


class CursorPaginator(Paginator):
    """Opaque cursor paging: the page carries ``cursor_field``; send it back as ``cursor_param``.

    Stops when the page has no cursor (Genesys analytics job results).
    """

    def __init__(self, cursor_field: str = "cursor", cursor_param: str = "cursor") -> None:
        self.cursor_field = cursor_field
        self.cursor_param = cursor_param

    def next_request(self, page_json: Any, items_count: int, previous: RequestSpec) -> RequestSpec | None:
        cursor = get_field(page_json, self.cursor_field)
        if not cursor:
            return None
        return RequestSpec(params={**previous.params, self.cursor_param: cursor})


class NextUriPaginator(Paginator):
    """Follow a link to the next page given in the page (``nextUri``); stop when it is absent.

    A relative link is resolved against the client's ``base_url``; an absolute one is used as is
    (credentials are only sent if it points at the vendor's host).
    """

    def __init__(self, field: str = "nextUri") -> None:
        self.field = field

    def next_request(self, page_json: Any, items_count: int, previous: RequestSpec) -> RequestSpec | None:
        link = get_field(page_json, self.field)
        if not link:
            return None
        return RequestSpec(path=str(link))


class ODataNextLinkPaginator(NextUriPaginator):
    """OData v4 server-driven paging via ``@odata.nextLink`` (Brightmetrics)."""

    def __init__(self, field: str = "@odata.nextLink") -> None:
        # "@odata.nextLink" contains a dot but is a single key: look it up directly.
        super().__init__(field)

    def next_request(self, page_json: Any, items_count: int, previous: RequestSpec) -> RequestSpec | None:
        link = page_json.get(self.field) if isinstance(page_json, Mapping) else None
        return RequestSpec(path=str(link)) if link else None


def count_items(page_json: Any, items_key: str | None) -> int:
    """Number of records on a page: ``len(page[items_key])`` (a missing key counts 0)."""
    items = page_json if items_key is None else get_field(page_json, items_key)
    return len(items) if isinstance(items, list) else 0


class _PageWalk:
    """Shared state of one walk over pages (used by both iterators)."""

    def __init__(
        self,
        path: str,
        paginator: Paginator,
        params: Mapping[str, Any] | None,
        items_key: str | None,
        max_pages: int | None,
    ) -> None:
        self.path = path
        self.paginator = paginator
        self.params = dict(params or {})
        self.items_key = items_key
        self.max_pages = max_pages
        self.spec: RequestSpec | None = paginator.first_request()
        self.pages = 0

    def request_args(self) -> tuple[str, dict[str, Any]]:
        assert self.spec is not None
        if self.spec.path is not None:
            return self.spec.path, dict(self.spec.params)
        return self.path, {**self.params, **self.spec.params}

    def advance(self, response: Response) -> Any:
        assert self.spec is not None
        page = response.json()
        self.pages += 1
        nxt = self.paginator.next_request(page, count_items(page, self.items_key), self.spec)
        if nxt is not None and nxt == self.spec:
            raise VendorResponseError(
                vendor=response.vendor,
                method=response.method,
                url=response.url,
                status=response.status,
                message=f"pagination did not advance after page {self.pages} (same next request)",
            )
        if nxt is not None and self.max_pages is not None and self.pages >= self.max_pages:
            raise VendorResponseError(
                vendor=response.vendor,
                method=response.method,
                url=response.url,
                status=response.status,
                message=f"more than max_pages={self.max_pages} pages; narrow the request or raise the cap",
            )
        self.spec = nxt
        return page


def iter_pages(
    client: HttpClient,
    method: str,
    path: str,
    *,
    paginator: Paginator,
    items_key: str | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    max_pages: int | None = None,
) -> Iterator[tuple[Any, bytes]]:
    """Request pages until the paginator stops; yield ``(page_json, raw_bytes)`` per page.

    :param client: the sync client.
    :param method: HTTP method (paged reads are idempotent; ``POST`` queries are fine).
    :param path: path (or URL) of the first page.
    :param paginator: how to go from one page to the next.
    :param items_key: dotted key of the records list in a page (``"entities"``); ``None`` if the
        page itself is the list.
    :param params: query parameters of every page the paginator builds.
    :param json: JSON body sent with every page request.
    :param headers: extra headers.
    :param max_pages: raise :class:`VendorResponseError` rather than request more pages.
    """
    walk = _PageWalk(path, paginator, params, items_key, max_pages)
    while walk.spec is not None:
        target, query = walk.request_args()
        response = client.request(method, target, params=query, json=json, headers=headers, expect=(200,))
        page = walk.advance(response)
        yield page, response.content


async def aiter_pages(
    client: AsyncHttpClient,
    method: str,
    path: str,
    *,
    paginator: Paginator,
    items_key: str | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    max_pages: int | None = None,
) -> AsyncIterator[tuple[Any, bytes]]:
    """Async twin of :func:`iter_pages`."""
    walk = _PageWalk(path, paginator, params, items_key, max_pages)
    while walk.spec is not None:
        target, query = walk.request_args()
        response = await client.arequest(
            method, target, params=query, json=json, headers=headers, expect=(200,)
        )
        page = walk.advance(response)
        yield page, response.content
