-- The data of record for the catalog (brands, shops, categories, products) and the community
-- (users, collages, likes). Ids are signed INT so that they map to GraphQL's `Int` without
-- conversion; timestamps are DATETIME(3) holding UTC.

CREATE TABLE brands (
    id          INT NOT NULL AUTO_INCREMENT,
    slug        VARCHAR(100) NOT NULL,
    name        VARCHAR(200) NOT NULL,
    logo_url    VARCHAR(500) NULL,
    created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY brands_slug (slug),
    KEY brands_name (name, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE shops (
    id          INT NOT NULL AUTO_INCREMENT,
    slug        VARCHAR(100) NOT NULL,
    name        VARCHAR(200) NOT NULL,
    domain      VARCHAR(255) NOT NULL,
    country     CHAR(2) NOT NULL,
    currency    CHAR(3) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY shops_slug (slug)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE categories (
    id          INT NOT NULL AUTO_INCREMENT,
    parent_id   INT NULL,
    slug        VARCHAR(100) NOT NULL,
    name        VARCHAR(200) NOT NULL,
    position    INT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE KEY categories_slug (slug),
    KEY categories_children (parent_id, position, id),
    CONSTRAINT categories_parent FOREIGN KEY (parent_id) REFERENCES categories (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE products (
    id                INT NOT NULL AUTO_INCREMENT,
    brand_id          INT NOT NULL,
    shop_id           INT NOT NULL,
    category_id       INT NOT NULL,
    name              VARCHAR(300) NOT NULL,
    description       TEXT NOT NULL,
    color             VARCHAR(40) NOT NULL,
    price_cents       INT NOT NULL,
    sale_price_cents  INT NULL,
    currency          CHAR(3) NOT NULL,
    image_url         VARCHAR(500) NOT NULL,
    deeplink_url      VARCHAR(1000) NOT NULL,
    like_count        INT NOT NULL DEFAULT 0,
    created_at        DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY products_category (category_id, id),
    KEY products_brand (brand_id, id),
    KEY products_shop (shop_id, id),
    KEY products_updated (updated_at, id),
    CONSTRAINT products_brand FOREIGN KEY (brand_id) REFERENCES brands (id),
    CONSTRAINT products_shop FOREIGN KEY (shop_id) REFERENCES shops (id),
    CONSTRAINT products_category FOREIGN KEY (category_id) REFERENCES categories (id),
    CONSTRAINT products_price CHECK (price_cents >= 0),
    CONSTRAINT products_sale_price CHECK (sale_price_cents IS NULL OR sale_price_cents < price_cents)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE users (
    id            INT NOT NULL AUTO_INCREMENT,
    username      VARCHAR(50) NOT NULL,
    display_name  VARCHAR(100) NOT NULL,
    avatar_url    VARCHAR(500) NULL,
    created_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY users_username (username)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE collages (
    id           INT NOT NULL AUTO_INCREMENT,
    user_id      INT NOT NULL,
    title        VARCHAR(200) NOT NULL,
    description  TEXT NOT NULL,
    like_count   INT NOT NULL DEFAULT 0,
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY collages_user (user_id, id),
    KEY collages_newest (created_at, id),
    KEY collages_popular (like_count, id),
    CONSTRAINT collages_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE collage_items (
    collage_id  INT NOT NULL,
    position    INT NOT NULL,
    product_id  INT NOT NULL,
    x           DOUBLE NOT NULL,
    y           DOUBLE NOT NULL,
    scale       DOUBLE NOT NULL DEFAULT 1,
    PRIMARY KEY (collage_id, position),
    KEY collage_items_product (product_id, collage_id),
    CONSTRAINT collage_items_collage FOREIGN KEY (collage_id) REFERENCES collages (id) ON DELETE CASCADE,
    CONSTRAINT collage_items_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE collage_tags (
    collage_id  INT NOT NULL,
    tag         VARCHAR(50) NOT NULL,
    PRIMARY KEY (collage_id, tag),
    KEY collage_tags_tag (tag, collage_id),
    CONSTRAINT collage_tags_collage FOREIGN KEY (collage_id) REFERENCES collages (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE product_likes (
    user_id     INT NOT NULL,
    product_id  INT NOT NULL,
    created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (user_id, product_id),
    KEY product_likes_product (product_id, user_id),
    KEY product_likes_user_recent (user_id, created_at),
    CONSTRAINT product_likes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT product_likes_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE collage_likes (
    user_id     INT NOT NULL,
    collage_id  INT NOT NULL,
    created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (user_id, collage_id),
    KEY collage_likes_collage (collage_id, user_id),
    KEY collage_likes_user_recent (user_id, created_at),
    CONSTRAINT collage_likes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT collage_likes_collage FOREIGN KEY (collage_id) REFERENCES collages (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
