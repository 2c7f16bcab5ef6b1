"""Message links: group the translations, close adaptations and near-duplicates of one text across languages.

A release translated into six languages, or reposted by several channels with small edits, is one *message*. The
linker puts the documents of one message in one group, within a time window (default 7 days)::

    from pmon.classifiers.links import LinkDocument, document_embeddings, link, sentence_embeddings

    docs = [LinkDocument(id="a", text="...", lang="en", published_at=t0), ...]
    sentences = sentence_embeddings([d.text for d in docs], encoder.encode)   # (m_i, d) per document
    vectors = document_embeddings(sentences=sentences)                        # (n, d), L2-normalised
    memberships = link(docs, vectors, sentences=sentences)   # {id: Membership(group, first_id, lag_hours, score)}

How (docs/links.md has the figures): raw cosine cannot tell a translation from another passage on the same story,
so a pair is linked when the two documents are each other's nearest neighbour in the other's language (mutual
nearest neighbours, per language pair) and their **margin** (cosine over the mean of each side's k nearest
cosines in that language, Artetxe & Schwenk 2019) clears a threshold; how well their sentences match each
other's, and the numbers they share or not, move the margin. Only documents within the time window of each other
are compared (documents are cut into window-wide time blocks and each block meets itself and its neighbours), so
the cost grows with the documents times the density of one window, linearly with the length of the stream.
"""

from pmon.classifiers.links.evaluate import PairScores, pair_scores
from pmon.classifiers.links.linker import (
    LinkDocument,
    LinkSettings,
    Membership,
    document_embeddings,
    link,
    numbers_in,
    sentence_embeddings,
)

__all__ = [
    "LinkDocument",
    "LinkSettings",
    "Membership",
    "PairScores",
    "document_embeddings",
    "link",
    "numbers_in",
    "pair_scores",
    "sentence_embeddings",
]
