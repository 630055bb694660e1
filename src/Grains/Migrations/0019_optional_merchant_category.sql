-- An authorization may name no merchant category: card networks send none for some merchants, and
-- the card's category controls and fraud rules then have nothing to match (a card that allows only
-- some categories refuses it). Categories that are not merchant category codes are kept as labels
-- in upper case ('OFFICE'), which the column held as text already.
ALTER TABLE card_authorizations ALTER COLUMN merchant_category DROP NOT NULL;
