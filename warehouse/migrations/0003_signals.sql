-- earshot warehouse, version 3: what each mention signals (sentiment and intents marketing acts on).
CREATE TABLE mention_signals (
    mention_id       VARCHAR PRIMARY KEY,
    content_hash     VARCHAR NOT NULL,   -- re-scored when the text changes
    sentiment        DOUBLE NOT NULL,    -- VADER compound, -1 .. 1
    sentiment_label  VARCHAR NOT NULL,   -- positive | negative | neutral
    intents          VARCHAR[] NOT NULL, -- pain, solution_request, advice_request, praise, pricing, competitor
    scored_at        TIMESTAMPTZ NOT NULL
);
