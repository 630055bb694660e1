-- An authorization's merchant name is kept in the form card networks print it (upper case, no
-- full stops, spaces collapsed: 'OFFICE SUPPLIES INC'), which fraud rules and receipts compare;
-- the name as the merchant sent it is kept beside it. Decisions recorded before have none.
ALTER TABLE card_authorizations ADD COLUMN merchant_name_original text;
